declare module 'serialize-javascript' {
  interface Options {
    space?: number | string
    isJSON?: boolean
    unsafe?: boolean
    ignoreFunction?: boolean
  }
  export default function serialize(input: unknown, options?: Options): string
}
