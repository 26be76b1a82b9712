// streamsearch 1.x ships no types: the parts of its API the multipart reader uses.
declare module 'streamsearch' {
  type Callback = (isMatch: boolean, data: Buffer | undefined, start: number, end: number, isSafeData: boolean) => void;
  export default class StreamSearch {
    constructor(needle: Buffer | string, callback: Callback);
    push(chunk: Uint8Array, pos?: number): number;
    /** Emits the data still held back (a possible partial match) as non-matching data, then resets. */
    destroy(): void;
  }
}
