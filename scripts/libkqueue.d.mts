/** The pinned libkqueue source tarball's file name. */
export const LIBKQUEUE_TARBALL: string;
/** A built libkqueue (its install prefix), or why there is none; never builds. */
export function findLibkqueue():
  | { prefix: string; reason?: undefined }
  | { prefix?: undefined; reason: string };
