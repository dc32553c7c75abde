/** The encryption answer matrix and the end of a server's TLS flight, on bytes. */
import assert from "node:assert/strict";
import {
  answerEncryption,
  clientEncryption,
  ENCRYPT,
  encryption,
  flightComplete,
  startsTls,
} from "./tls.ts";
import { selfSignedCertificate } from "./cert.ts";

Deno.test("PRELOGIN ENCRYPTION: ON for clients that ask; REQ or NOT_SUP for the others; nothing offered without a certificate", () => {
  const offered = encryption({ ...selfSignedCertificate(), require: false });
  const required = encryption({ ...selfSignedCertificate(), require: true });
  const { OFF, ON, NOT_SUP, REQ } = ENCRYPT;
  const rows = [OFF, ON, NOT_SUP, REQ].map((client) => [
    client,
    answerEncryption(client, undefined),
    answerEncryption(client, offered),
    answerEncryption(client, required),
  ]);
  assert.deepEqual(rows, [
    [OFF, NOT_SUP, NOT_SUP, REQ],
    [ON, NOT_SUP, ON, ON],
    [NOT_SUP, NOT_SUP, NOT_SUP, REQ],
    [REQ, NOT_SUP, ON, ON],
  ]);
  assert.ok(startsTls(OFF, REQ) && startsTls(ON, ON));
  assert.ok(!startsTls(NOT_SUP, REQ) && !startsTls(NOT_SUP, NOT_SUP));
  // VERSION (6 bytes at 11) then ENCRYPTION (1 byte at 17), as tedious writes them.
  const payload = new Uint8Array([0, 0, 11, 0, 6, 1, 0, 17, 0, 1, 0xff, 16, 0, 0, 0, 0, 0, ON]);
  assert.equal(clientEncryption(payload), ON);
  assert.equal(clientEncryption(new Uint8Array([0xff])), NOT_SUP);
});

Deno.test("a TLS 1.2 server flight ends at ServerHelloDone, or at the record after ChangeCipherSpec", () => {
  const record = (
    type: number,
    body: number[],
  ) => [type, 3, 3, body.length >> 8, body.length & 0xff, ...body];
  const hs = (type: number, len: number) => [type, 0, 0, len, ...Array(len).fill(7)];
  const hello = record(22, [...hs(2, 5), ...hs(11, 3)]);
  const done = record(22, hs(14, 0));
  assert.ok(!flightComplete(new Uint8Array(hello)));
  assert.ok(flightComplete(new Uint8Array([...hello, ...done])));
  assert.ok(!flightComplete(new Uint8Array([...hello, ...done].slice(0, -1))), "a cut record");
  const ccs = record(20, [1]);
  assert.ok(!flightComplete(new Uint8Array(ccs)));
  assert.ok(flightComplete(new Uint8Array([...ccs, ...record(22, [9, 9, 9])])));
  assert.ok(flightComplete(new Uint8Array(record(21, [2, 40]))), "an alert ends it");
});
