// jpeg-lossless-decoder-js ships its TypeScript sources but no declarations; this is the part we call.
declare module 'jpeg-lossless-decoder-js' {
  export class Decoder {
    /** Samples as a typed array (Uint8Array or Uint16Array, by numBytes). */
    decode(buffer: ArrayBuffer, offset: number, length: number, numBytes?: number): ArrayBuffer | ArrayBufferView;
  }
}
