import { describe, expect, it } from 'vitest';
import {
  CancellationTimeoutError,
  DuplicateAllocationError,
  ErrorCode,
  NonErrorThrownError,
  SerializationError,
  TaskSubmissionError,
  TaskwardenError,
  toError,
} from './errors.js';
import { deserializeError, isSerializedError, serializeError } from './internal/serialized-error.js';

describe('TaskwardenError', () => {
  it('carries a code, a name from its class, typed context and a cause', () => {
    const cause = new Error('root');
    const error = new TaskSubmissionError(ErrorCode.NO_ACTIVE_SLOT, 'no slot', { cause, executionId: 'e' });
    expect(error).toBeInstanceOf(TaskwardenError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('TaskSubmissionError');
    expect(error.code).toBe('NO_ACTIVE_SLOT');
    expect(error.executionId).toBe('e');
    expect(error.cause).toBe(cause);
    expect(error.stack).toContain('TaskSubmissionError: no slot');
  });

  it('every code value equals its name', () => {
    for (const [key, value] of Object.entries(ErrorCode)) expect(value).toBe(key);
  });

  it('instanceof works for an error from another loaded copy of the SDK (Symbol.for brand)', () => {
    // A second copy has its own classes; model it with a look-alike carrying the shared brand.
    class DuplicateAllocationErrorCopy extends Error {
      code = 'DUPLICATE_ALLOCATION';
    }
    Object.defineProperty(DuplicateAllocationErrorCopy, 'name', { value: 'DuplicateAllocationError' });
    const foreign = new DuplicateAllocationErrorCopy('x');
    Object.defineProperty(foreign, Symbol.for('@taskwarden/sdk:TaskwardenError'), { value: true });
    expect(foreign).toBeInstanceOf(TaskwardenError);
    expect(foreign).toBeInstanceOf(DuplicateAllocationError);
    expect(foreign).not.toBeInstanceOf(CancellationTimeoutError);
    expect(TaskwardenError.is(new Error('plain'))).toBe(false);
    expect(new Error('plain')).not.toBeInstanceOf(TaskwardenError);
  });

  it('toError keeps errors and wraps anything else', () => {
    const error = new Error('x');
    expect(toError(error)).toBe(error);
    const wrapped = toError({ reason: 42 });
    expect(wrapped).toBeInstanceOf(NonErrorThrownError);
    expect((wrapped as NonErrorThrownError).value).toEqual({ reason: 42 });
    expect(wrapped.message).toContain('{"reason":42}');
  });
});

describe('error serialization across threads and processes', () => {
  it('keeps name, message, stack, code, own fields and the cause chain through structured clone', () => {
    const cause = new RangeError('inner');
    const error = Object.assign(new Error('outer', { cause }), {
      name: 'ImageError',
      code: 'E_IMAGE',
      detail: { width: 3 },
      fn: () => 1,
    });
    const copy = structuredClone(serializeError(error));
    expect(isSerializedError(copy)).toBe(true);
    const back = deserializeError(copy);
    expect(back).toBeInstanceOf(Error);
    expect(back.name).toBe('ImageError');
    expect(back.message).toBe('outer');
    expect(back.stack).toBe(error.stack);
    expect((back as unknown as { code: string }).code).toBe('E_IMAGE');
    expect((back as unknown as { detail: unknown }).detail).toEqual({ width: 3 });
    expect((back as unknown as { fn?: unknown }).fn).toBeUndefined(); // not cloneable: dropped
    expect((back.cause as Error).message).toBe('inner');
    expect((back.cause as Error).name).toBe('RangeError');
  });

  it("brings the SDK's own errors back as instances of their classes", () => {
    const error = new SerializationError('result', { cause: new Error('could not be cloned') });
    const back = deserializeError(structuredClone(serializeError(error)));
    expect(back).toBeInstanceOf(SerializationError);
    expect(back).toBeInstanceOf(TaskwardenError);
    expect((back as SerializationError).code).toBe(ErrorCode.SERIALIZATION_FAILED);
    expect((back as SerializationError).what).toBe('result');
    expect(back.message).toBe(error.message);
  });

  it('serializes non-Error throws', () => {
    const back = deserializeError(structuredClone(serializeError('just a string')));
    expect(back.name).toBe('NonErrorThrownError');
    expect((back as unknown as { value: unknown }).value).toBe('just a string');
  });
});

describe('malformed serialized errors', () => {
  it.each([
    [{ __taskwardenError: 1, message: 'm' }],
    [{ __taskwardenError: 1, name: 'E', message: 'm', props: null }],
    [{ __taskwardenError: 1, name: 'E', message: 'm', props: {}, cause: null }],
    [{ __taskwardenError: 1, name: 5, message: 'm', props: {} }],
  ])('are refused by isSerializedError and turned into a ProtocolError, never a throw: %j', (value) => {
    expect(isSerializedError(value)).toBe(false);
    const error = deserializeError(value as never);
    expect(error.name).toBe('ProtocolError');
    expect((error as TaskwardenError).code).toBe(ErrorCode.PROTOCOL_ERROR);
  });
});
