/**
 * The one check of a path in a source's configuration: what the main thread
 * sends a worker names files the worker was granted, so a path must be
 * absolute and must not climb out with "..".
 *
 * @module
 */

/**
 * `value` when it is an absolute path without a ".." segment.
 *
 * @param value The configuration's field.
 * @param source The source, for the message.
 * @param field The field's name, for the message.
 * @throws {TypeError} `Cannot configure <source>: <field> must be an
 *   absolute path without ".."`.
 */
export function configPath(
  value: unknown,
  source: string,
  field: string,
): string {
  if (
    typeof value !== "string" || !value.startsWith("/") ||
    value.includes("\0") || value.split("/").includes("..")
  ) {
    throw new TypeError(
      `Cannot configure ${source}: ${field} must be an absolute path without ".."`,
    );
  }
  return value;
}
