/** File system error codes that mean a user-given path is unusable, with plain-words reasons. */
export const PATH_ERROR_REASONS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'the path is a folder, expected a file',
  ENOSPC: 'no space left on the device',
  EEXIST: 'a file already exists there',
};

/** Returns the reason of a file system error in plain words followed by its code, such as "permission denied (EACCES)". */
export function describeFileSystemReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string') return code in PATH_ERROR_REASONS ? `${PATH_ERROR_REASONS[code]} (${code})` : code;
  return (error as Error).message;
}
