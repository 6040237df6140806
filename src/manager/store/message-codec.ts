import type { BinaryWriter } from '@bufbuild/protobuf/wire';

/** What ts-proto generates for every message: enough to store it as protobuf bytes. */
export interface MessageCodec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: Uint8Array): T;
}

export function encodeMessage<T>(codec: MessageCodec<T>, message: T): Uint8Array {
  return codec.encode(message).finish();
}
