import { readFile } from 'node:fs/promises';

/** One file of the page, read once at start. @internal */
export interface StaticAsset {
  readonly body: Buffer;
  readonly contentType: string;
}

/** The page's files by URL path. They ship in the package's `assets/` folder; nothing is fetched from elsewhere. */
const FILES: Record<string, { file: string; contentType: string }> = {
  '/': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/inspector.js': { file: 'inspector.js', contentType: 'text/javascript; charset=utf-8' },
  '/inspector.css': { file: 'inspector.css', contentType: 'text/css; charset=utf-8' },
};

/** The page's files (`src/http` and `dist/http` both sit two levels below the package root). @internal */
export async function loadStaticAssets(): Promise<ReadonlyMap<string, StaticAsset>> {
  const folder = new URL('../../assets/', import.meta.url);
  const entries = await Promise.all(
    Object.entries(FILES).map(
      async ([path, { file, contentType }]) =>
        [path, { body: await readFile(new URL(file, folder)), contentType }] as const,
    ),
  );
  return new Map(entries);
}
