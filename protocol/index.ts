export * from './common.js';
export * from './errors.js';
export * from './messages.js';
export * from './parse.js';
export * from './dialects.js';
export * from './queue.js';
export * from './spotify.js';
export * from './crew-pages.js';
