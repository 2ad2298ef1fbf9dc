// tsyringe reads decorator metadata through the Reflect API; every entry point of the package imports
// this module first, so the polyfill is loaded once, before any decorated class is defined.
import 'reflect-metadata';
