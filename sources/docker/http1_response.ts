/**
 * An incremental reader of one HTTP/1.1 response (status line, headers,
 * body by Content-Length, chunked, or up to the end of the connection), for
 * the Docker source's keep-alive requests over the engine's unix socket.
 * Pure: bytes in, a response or a SyntaxError/RangeError naming the problem
 * out.
 *
 * @module
 */
import { quotedPreview } from "../../support/preview.ts";

/** One complete response. */
export interface Http1Response {
  /** The status code. */
  readonly status: number;
  /** Header values by lower-case name (repeated headers joined by ", "). */
  readonly headers: ReadonlyMap<string, string>;
  /** The body, de-chunked. */
  readonly body: Uint8Array;
  /** Whether the connection may carry the next request. */
  readonly keepAlive: boolean;
}

/** Limits of {@linkcode Http1ResponseReader}. */
export interface Http1Limits {
  /** The longest status line plus headers. @default 64 KiB */
  readonly maxHeaderBytes?: number;
  /** The longest body. @default 32 MiB */
  readonly maxBodyBytes?: number;
}

const CRLF_CRLF = [13, 10, 13, 10];
const decoder = new TextDecoder();

function indexOfSequence(
  bytes: Uint8Array,
  sequence: readonly number[],
  from: number,
): number {
  outer: for (let i = from; i <= bytes.length - sequence.length; i++) {
    for (let j = 0; j < sequence.length; j++) {
      if (bytes[i + j] !== sequence[j]) continue outer;
    }
    return i;
  }
  return -1;
}

type BodyMode =
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" }
  | { readonly kind: "close" };

interface Head {
  readonly status: number;
  readonly headers: Map<string, string>;
  readonly keepAlive: boolean;
  readonly body: BodyMode;
}

function parseHead(text: string, requestMethod: string): Head {
  const lines = text.split("\r\n");
  const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? "");
  if (!statusLine) {
    throw new SyntaxError(
      `Cannot read the response: not an HTTP/1.x status line: ${
        quotedPreview(lines[0] ?? "")
      }`,
    );
  }
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) {
      throw new SyntaxError(
        `Cannot read the response: not a header line: ${quotedPreview(line)}`,
      );
    }
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const before = headers.get(name);
    headers.set(name, before === undefined ? value : `${before}, ${value}`);
  }
  const status = Number(statusLine[2]);
  const connection = headers.get("connection")?.toLowerCase() ?? "";
  const keepAlive = statusLine[1] === "1"
    ? !connection.includes("close")
    : connection.includes("keep-alive");
  const encoding = headers.get("transfer-encoding")?.toLowerCase();
  const lengthText = headers.get("content-length");
  let body: BodyMode;
  if (
    requestMethod === "HEAD" || status === 204 || status === 304 ||
    (status >= 100 && status < 200)
  ) {
    body = { kind: "length", length: 0 };
  } else if (encoding !== undefined) {
    if (encoding !== "chunked") {
      throw new SyntaxError(
        `Cannot read the response: unsupported Transfer-Encoding ${
          quotedPreview(encoding)
        }`,
      );
    }
    body = { kind: "chunked" };
  } else if (lengthText !== undefined) {
    if (!/^\d{1,15}$/.test(lengthText)) {
      throw new SyntaxError(
        `Cannot read the response: bad Content-Length ${
          quotedPreview(lengthText)
        }`,
      );
    }
    body = { kind: "length", length: Number(lengthText) };
  } else body = { kind: "close" };
  return {
    status,
    headers,
    keepAlive: keepAlive && body.kind !== "close",
    body,
  };
}

/**
 * Reads one response from the bytes of a connection as they arrive.
 *
 * @example
 * ```ts
 * const reader = new Http1ResponseReader("GET");
 * const response = reader.push(
 *   new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"),
 * );
 * ```
 */
export class Http1ResponseReader {
  readonly #method: string;
  readonly #maxHeaderBytes: number;
  readonly #maxBodyBytes: number;
  #buffer = new Uint8Array(0);
  #head: Head | undefined;
  #body: Uint8Array[] = [];
  #bodyBytes = 0;
  /** Chunked: bytes of the current chunk still to come (-1: at a size line). */
  #chunkLeft = -1;
  #done = false;

  /**
   * @param requestMethod The request's method (a HEAD response has no body).
   * @param limits Bounds on the head and the body.
   */
  constructor(requestMethod: string, limits: Http1Limits = {}) {
    this.#method = requestMethod;
    this.#maxHeaderBytes = limits.maxHeaderBytes ?? 64 * 1024;
    this.#maxBodyBytes = limits.maxBodyBytes ?? 32 * 1024 * 1024;
  }

  /**
   * Takes the next bytes of the connection.
   *
   * @returns The response once complete, else undefined (more is needed).
   * @throws {SyntaxError} When the bytes are not an HTTP/1.x response.
   * @throws {RangeError} When the head or body exceeds its limit.
   */
  push(chunk: Uint8Array): Http1Response | undefined {
    if (this.#done) {
      throw new SyntaxError(
        `Cannot read the response: bytes after its end: ${
          quotedPreview(decoder.decode(chunk.subarray(0, 80)))
        }`,
      );
    }
    const joined = new Uint8Array(this.#buffer.length + chunk.length);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.length);
    this.#buffer = joined;
    if (this.#head === undefined) {
      const end = indexOfSequence(
        this.#buffer,
        CRLF_CRLF,
        Math.max(0, this.#buffer.length - chunk.length - 3),
      );
      if (end === -1) {
        if (this.#buffer.length > this.#maxHeaderBytes) {
          throw new RangeError(
            `Cannot read the response: its head is over ${this.#maxHeaderBytes} bytes`,
          );
        }
        return undefined;
      }
      if (end > this.#maxHeaderBytes) {
        throw new RangeError(
          `Cannot read the response: its head is over ${this.#maxHeaderBytes} bytes`,
        );
      }
      this.#head = parseHead(
        decoder.decode(this.#buffer.subarray(0, end)),
        this.#method,
      );
      this.#buffer = this.#buffer.subarray(end + 4);
    }
    return this.#readBody(this.#head);
  }

  /**
   * The connection ended.
   *
   * @returns The response, when it ends with the connection.
   * @throws {SyntaxError} When the response was cut short.
   */
  end(): Http1Response {
    if (this.#head?.body.kind === "close" && !this.#done) {
      this.#take(this.#buffer);
      this.#buffer = new Uint8Array(0);
      return this.#finish(this.#head);
    }
    throw new SyntaxError(
      this.#head === undefined
        ? `Cannot read the response: the connection closed before its head ended (${this.#buffer.length} bytes)`
        : `Cannot read the response: the connection closed before its body ended (${this.#bodyBytes} bytes read)`,
    );
  }

  #take(bytes: Uint8Array): void {
    this.#bodyBytes += bytes.length;
    if (this.#bodyBytes > this.#maxBodyBytes) {
      throw new RangeError(
        `Cannot read the response: its body is over ${this.#maxBodyBytes} bytes`,
      );
    }
    if (bytes.length > 0) this.#body.push(bytes.slice());
  }

  #finish(head: Head): Http1Response {
    this.#done = true;
    const body = new Uint8Array(this.#bodyBytes);
    let offset = 0;
    for (const part of this.#body) {
      body.set(part, offset);
      offset += part.length;
    }
    this.#body = [];
    return {
      status: head.status,
      headers: head.headers,
      body,
      keepAlive: head.keepAlive,
    };
  }

  #readBody(head: Head): Http1Response | undefined {
    const mode = head.body;
    if (mode.kind === "close") {
      this.#take(this.#buffer);
      this.#buffer = new Uint8Array(0);
      return undefined;
    }
    return mode.kind === "length"
      ? this.#readLengthBody(head, mode.length)
      : this.#readChunkedBody(head);
  }

  /** A body of `length` bytes (Content-Length). */
  #readLengthBody(head: Head, length: number): Http1Response | undefined {
    if (length > this.#maxBodyBytes) {
      throw new RangeError(
        `Cannot read the response: its body is over ${this.#maxBodyBytes} bytes`,
      );
    }
    const wanted = length - this.#bodyBytes;
    if (this.#buffer.length < wanted) {
      this.#take(this.#buffer);
      this.#buffer = new Uint8Array(0);
      return undefined;
    }
    this.#take(this.#buffer.subarray(0, wanted));
    this.#buffer = this.#buffer.subarray(wanted);
    this.#checkNothingAfter();
    return this.#finish(head);
  }

  /**
   * A chunked body. `#chunkLeft` says where it is: -1 before a size line,
   * -2 after the last chunk (waiting for its empty line), else the bytes of
   * the current chunk and its CRLF still to come.
   */
  #readChunkedBody(head: Head): Http1Response | undefined {
    for (;;) {
      if (this.#chunkLeft === -1) {
        const length = this.#readChunkSize();
        if (length === undefined) return undefined;
        this.#chunkLeft = length === 0 ? -2 : length + 2; // chunk and CRLF
      }
      if (this.#chunkLeft === -2) {
        // The last chunk: no trailers expected; an empty line ends it.
        if (this.#buffer.length < 2) return undefined;
        if (this.#buffer[0] !== 13 || this.#buffer[1] !== 10) {
          throw new SyntaxError(
            "Cannot read the response: trailers after the last chunk",
          );
        }
        this.#buffer = this.#buffer.subarray(2);
        this.#checkNothingAfter();
        return this.#finish(head);
      }
      if (this.#buffer.length < this.#chunkLeft) {
        // Take what there is of the data; keep a partial CRLF for later.
        const data = Math.min(this.#buffer.length, this.#chunkLeft - 2);
        this.#take(this.#buffer.subarray(0, data));
        this.#buffer = this.#buffer.subarray(data);
        this.#chunkLeft -= data;
        return undefined;
      }
      const dataLength = this.#chunkLeft - 2;
      this.#take(this.#buffer.subarray(0, dataLength));
      if (
        this.#buffer[dataLength] !== 13 || this.#buffer[dataLength + 1] !== 10
      ) {
        throw new SyntaxError(
          "Cannot read the response: a chunk does not end with CRLF",
        );
      }
      this.#buffer = this.#buffer.subarray(this.#chunkLeft);
      this.#chunkLeft = -1;
    }
  }

  /** The next chunk's size, once its whole line is here (else undefined). */
  #readChunkSize(): number | undefined {
    const lineEnd = indexOfSequence(this.#buffer, [13, 10], 0);
    if (lineEnd === -1) {
      if (this.#buffer.length > 1024) {
        throw new SyntaxError(
          "Cannot read the response: a chunk size line is over 1024 bytes",
        );
      }
      return undefined;
    }
    const line = decoder.decode(this.#buffer.subarray(0, lineEnd));
    const size = /^([0-9a-fA-F]{1,8})(?:;.*)?$/.exec(line.trim());
    if (!size) {
      throw new SyntaxError(
        `Cannot read the response: bad chunk size line ${quotedPreview(line)}`,
      );
    }
    this.#buffer = this.#buffer.subarray(lineEnd + 2);
    return parseInt(size[1]!, 16);
  }

  #checkNothingAfter(): void {
    if (this.#buffer.length > 0) {
      throw new SyntaxError(
        `Cannot read the response: bytes after its end: ${
          quotedPreview(decoder.decode(this.#buffer.subarray(0, 80)))
        }`,
      );
    }
  }
}
