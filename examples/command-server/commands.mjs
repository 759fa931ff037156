// @ts-check
// The command set shared by the server and its clients (ipc-server's example: print, add, push).

/**
 * @typedef {{ type: 'print', text: string }
 *   | { type: 'add', a: number, b: number }
 *   | { type: 'push', value: number }} Commands
 * @typedef {{ print: null, add: number, push: number[] }} Responses   // push answers with the whole stack
 * @typedef {{ stack: number[], printed: string[] }} Context           // what the application owns
 */

export {}
