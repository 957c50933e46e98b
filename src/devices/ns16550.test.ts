/** Unit tests for the 16550A UART: transmit, receive FIFO, interrupts as Linux's 8250 driver probes them. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Ns16550 } from "./ns16550.js";
import { FakeChar, FakeIrq } from "./testing.js";

function setup() {
  const char = new FakeChar();
  const irq = new FakeIrq();
  const uart = new Ns16550({ char, irq });
  return { char, irq, uart };
}

test("THR writes reach the backend; LSR reports THRE|TEMT", () => {
  const { char, uart } = setup();
  for (const c of "hi\n") uart.write(0, 1, c.charCodeAt(0));
  assert.equal(char.text(), "hi\n");
  assert.equal(uart.read(5, 1) & 0x60, 0x60);
  assert.notEqual(uart.read(5, 1), 0xff);
});

test("divisor latch is reachable with DLAB and hides RBR/IER", () => {
  const { char, uart } = setup();
  uart.write(3, 1, 0x83);
  uart.write(0, 1, 0x01);
  uart.write(1, 1, 0x02);
  assert.equal(uart.read(0, 1), 0x01);
  assert.equal(uart.read(1, 1), 0x02);
  uart.write(3, 1, 0x03);
  assert.equal(uart.read(1, 1), 0);
  assert.equal(char.out.length, 0, "divisor writes are not transmitted");
});

test("scratch register holds a value", () => {
  const { uart } = setup();
  uart.write(7, 1, 0xa5);
  assert.equal(uart.read(7, 1), 0xa5);
});

test("enabling THRI while THR is empty raises the THRE interrupt; reading IIR clears it (8250 startup test)", () => {
  const { irq, uart } = setup();
  uart.write(1, 1, 0x02);
  assert.equal(irq.level, true);
  assert.equal(uart.read(2, 1) & 0x0f, 0x02);
  assert.equal(irq.level, false);
  assert.equal(uart.read(2, 1) & 0x01, 1, "no interrupt pending any more");
  uart.write(1, 1, 0);
  uart.write(1, 1, 0x02);
  assert.equal(uart.read(2, 1) & 0x0f, 0x02, "re-enabling re-arms it");
  // Each transmitted byte re-arms THRE.
  uart.write(0, 1, 0x41);
  assert.equal(irq.level, true);
});

test("received bytes set DR and raise the RX interrupt; FIFO keeps order", () => {
  const { char, irq, uart } = setup();
  uart.write(2, 1, 0x07); // enable + clear FIFOs, trigger 1
  assert.equal(uart.read(2, 1) & 0xc0, 0xc0);
  uart.write(1, 1, 0x01);
  char.type("abc");
  assert.equal(irq.level, true);
  assert.equal(uart.read(5, 1) & 1, 1);
  assert.equal(uart.read(2, 1) & 0x0f, 0x04);
  assert.equal(String.fromCharCode(uart.read(0, 1), uart.read(0, 1), uart.read(0, 1)), "abc");
  assert.equal(uart.read(5, 1) & 1, 0);
  assert.equal(irq.level, false);
});

test("below the trigger level the timeout interrupt is reported", () => {
  const { char, uart } = setup();
  uart.write(2, 1, 0xc1); // trigger 14
  uart.write(1, 1, 0x01);
  char.type("x");
  assert.equal(uart.read(2, 1) & 0x0f, 0x0c);
  char.type("0123456789abcd");
  assert.equal(uart.read(2, 1) & 0x0f, 0x04);
});

test("without FIFO a second byte overruns; LSR.OE is reported and cleared by reading LSR", () => {
  const { char, irq, uart } = setup();
  uart.write(1, 1, 0x05);
  char.type("ab");
  assert.equal(uart.read(2, 1) & 0x0f, 0x06);
  assert.equal(irq.level, true);
  assert.equal(uart.read(5, 1) & 0x03, 0x03);
  assert.equal(uart.read(5, 1) & 0x02, 0);
  assert.equal(uart.read(0, 1), "a".charCodeAt(0));
});

test("loopback routes THR to RBR and MCR outputs to MSR inputs (8250 autoconfig check)", () => {
  const { char, uart } = setup();
  uart.write(2, 1, 0x01);
  uart.write(4, 1, 0x10 | 0x0a);
  assert.equal(uart.read(6, 1) & 0xf0, 0x90);
  uart.write(0, 1, 0x55);
  assert.equal(char.out.length, 0);
  assert.equal(uart.read(0, 1), 0x55);
  uart.write(4, 1, 0x0b);
  assert.equal(uart.read(6, 1) & 0xb0, 0xb0);
});

test("save/restore round-trips registers and pending input", () => {
  const { char, uart } = setup();
  uart.write(2, 1, 0x01);
  uart.write(1, 1, 0x01);
  uart.write(7, 1, 0x42);
  char.type("zz");
  uart.read(0, 1);
  const saved = uart.save();
  const other = setup();
  assert.notDeepEqual(other.uart.save(), saved, "the target starts in a different state");
  other.uart.restore(saved);
  assert.equal(other.irq.level, true);
  assert.equal(other.uart.read(7, 1), 0x42);
  assert.equal(other.uart.read(0, 1), "z".charCodeAt(0));
  assert.equal(other.irq.level, false);
  assert.deepEqual(other.uart.save().scr, 0x42);
});

test("input pacing: nothing until the driver has receive interrupts on across two polls", () => {
  const { uart } = setup();
  assert.equal(uart.inputSpace(), 0, "fresh UART: no driver yet");
  uart.write(2, 1, 0x01); // FCR: FIFO on
  uart.write(1, 1, 0x01); // IER: RDI
  assert.equal(uart.inputSpace(), 0, "first poll after RDI: still settling");
  assert.equal(uart.inputSpace(), 4096, "then the FIFO's free space");
  uart.receive(new Uint8Array([1, 2, 3]));
  assert.equal(uart.inputSpace(), 4093);
  uart.write(1, 1, 0); // driver closes the port
  assert.equal(uart.inputSpace(), 0);
});

test("input pacing: a getchar loop polling LSR gets input; a putchar loop does not count as polling", () => {
  const { uart } = setup();
  for (let i = 0; i < 200; i++) {
    uart.read(5, 1);
    uart.write(0, 1, 0x41); // LSR then THR: console output
  }
  assert.equal(uart.inputSpace(), 0);
  for (let i = 0; i < 64; i++) uart.read(5, 1);
  assert.equal(uart.inputSpace(), 1, "no FIFO: one holding register");
  uart.receive(new Uint8Array([0x61]));
  assert.equal(uart.inputSpace(), 0, "delivery restarts the count");
});
