// dcmjs ships no type declarations; we use only its data dictionary (see dicom/dictionary.ts).
declare module 'dcmjs' {
  const dcmjs: unknown;
  export default dcmjs;
}
