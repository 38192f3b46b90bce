import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { Http1ResponseReader } from "./http1_response.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
const text = (body: Uint8Array) => new TextDecoder().decode(body);

/** Feeds `whole` in pieces of `size` bytes; the response, or undefined. */
function feed(whole: string, size: number, method = "GET") {
  const reader = new Http1ResponseReader(method);
  const all = bytes(whole);
  for (let i = 0; i < all.length; i += size) {
    const response = reader.push(all.subarray(i, i + size));
    if (response !== undefined) return { response, at: i + size };
  }
  return { reader };
}

const CHUNKED = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\n" +
  "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
  '5\r\n{"Id"\r\n' + '8;ext=1\r\n:"abc"}\n\r\n' + "0\r\n\r\n";

Deno.test("Http1ResponseReader reads chunked and sized bodies split anywhere", () => {
  for (const size of [1, 2, 3, 7, 64, 4096]) {
    const { response } = feed(CHUNKED, size);
    assertEquals(response?.status, 200);
    assertEquals(text(response!.body), '{"Id":"abc"}\n');
    assertEquals(response?.headers.get("api-version"), "1.41");
    assertEquals(response?.keepAlive, true);
    const sized = feed(
      "HTTP/1.1 404 Not Found\r\nContent-Length: 29\r\n\r\n" +
        '{"message":"No such object"}\n',
      size,
    ).response;
    assertEquals(sized?.status, 404);
    assertEquals(text(sized!.body), '{"message":"No such object"}\n');
  }
});

Deno.test("Http1ResponseReader: keep-alive, HEAD, 204, and bodies that end with the connection", () => {
  assertEquals(
    feed("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 9)
      .response?.keepAlive,
    false,
  );
  assertEquals(
    feed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 9).response?.keepAlive,
    false,
  );
  assertEquals(
    feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 100, "HEAD")
      .response?.body.length,
    0,
  );
  assertEquals(
    feed("HTTP/1.1 204 No Content\r\n\r\n", 100).response?.status,
    204,
  );
  const { reader } = feed("HTTP/1.1 200 OK\r\n\r\nall of it", 4);
  const ended = reader!.end();
  assertEquals(text(ended.body), "all of it");
  assertEquals(ended.keepAlive, false);
});

Deno.test("Http1ResponseReader refuses hostile and truncated responses with a reason", () => {
  const refuses = (
    input: string,
    error: typeof SyntaxError | typeof RangeError,
    part: string,
    limits = {},
  ) => {
    const reader = new Http1ResponseReader("GET", limits);
    assertThrows(
      () => {
        reader.push(bytes(input));
        reader.end();
      },
      error,
      part,
    );
  };
  refuses(
    "SSH-2.0-OpenSSH\r\n\r\n",
    SyntaxError,
    "not an HTTP/1.x status line",
  );
  refuses("HTTP/2 200\r\n\r\n", SyntaxError, "not an HTTP/1.x status line");
  refuses(
    "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
    SyntaxError,
    "not a header line",
  );
  refuses(
    "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    SyntaxError,
    "bad Content-Length",
  );
  refuses(
    "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999\r\n\r\n",
    SyntaxError,
    "bad Content-Length",
  );
  refuses(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
    SyntaxError,
    "unsupported Transfer-Encoding",
  );
  refuses(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    SyntaxError,
    "bad chunk size line",
  );
  refuses(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n",
    SyntaxError,
    "a chunk does not end with CRLF",
  );
  refuses(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n",
    SyntaxError,
    "trailers after the last chunk",
  );
  refuses(
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra",
    SyntaxError,
    "Cannot read the response: bytes after its end",
  );
  refuses(
    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",
    SyntaxError,
    "closed before its body ended (2 bytes read)",
  );
  refuses(
    "HTTP/1.1 200 O",
    SyntaxError,
    "closed before its head ended",
  );
  refuses(
    `HTTP/1.1 200 OK\r\nX: ${"a".repeat(2000)}`,
    RangeError,
    "its head is over 1024 bytes",
    { maxHeaderBytes: 1024 },
  );
  refuses(
    "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n",
    RangeError,
    "its body is over 100 bytes",
    { maxBodyBytes: 100 },
  );
  refuses(
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n${
      "a".repeat(128)
    }\r\n`,
    RangeError,
    "its body is over 100 bytes",
    { maxBodyBytes: 100 },
  );
  refuses(
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${"1".repeat(1100)}`,
    SyntaxError,
    "a chunk size line is over 1024 bytes",
  );
});
