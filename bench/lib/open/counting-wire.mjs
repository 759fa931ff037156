// A Wire wrapper that adds every byte written to `counter.bytes` (the cost-per-byte figures of
// the memory wires). Everything else goes straight to the wrapped wire.
export function countingWire(wire, counter) {
  return {
    write(bytes) {
      counter.bytes += bytes.byteLength
      wire.write(bytes)
    },
    ...(wire.writev && {
      writev(chunks) {
        for (const c of chunks) counter.bytes += c.byteLength
        wire.writev(chunks)
      },
    }),
    start: (onData, onEnd) => wire.start(onData, onEnd),
    close: () => wire.close(),
    ...(wire.ref && { ref: () => wire.ref() }),
    ...(wire.unref && { unref: () => wire.unref() }),
  }
}
