// Raw baseline, child process with Node IPC (serialization 'json' or 'advanced'): echo every message back.
// Exits once the parent disconnects the channel.
process.on('message', (m) => process.send(m))
