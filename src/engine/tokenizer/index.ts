export { ClipTokenizer, type TokenizeResult } from './clip-tokenizer.ts';
