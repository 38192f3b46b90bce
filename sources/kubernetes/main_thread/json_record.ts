/**
 * The one shape check the Kubernetes parsers share: is a decoded JSON or
 * YAML value an object (not null, not an array)?
 *
 * @module
 */

/**
 * `value` as an object with string keys, or undefined when it is not one.
 *
 * @param value A decoded JSON or YAML value.
 */
export function jsonRecord(
  value: unknown,
): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : undefined;
}
