/**
 * Running a program to completion and collecting its output.
 *
 * @module
 */

/** What a finished program printed and its exit code. */
export interface CommandResult {
  /** Exit code. */
  readonly code: number;
  /** Standard output, decoded. */
  readonly stdout: string;
  /** Standard error, decoded. */
  readonly stderr: string;
}

/**
 * Runs `binary` with `args` (no shell), stdin closed, and waits for it.
 *
 * @returns Its exit code and output; never rejects for a non-zero exit.
 * @throws {Deno.errors.NotFound} When the binary does not exist.
 */
export async function runCommand(
  binary: string,
  args: readonly string[],
): Promise<CommandResult> {
  const output = await new Deno.Command(binary, {
    args: [...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
