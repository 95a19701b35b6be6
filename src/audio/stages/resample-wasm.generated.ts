// GENERATED FILE, do not edit. Compiled from resample.wat with wabt (SIMD128 enabled).
// Regenerate after editing the .wat: UPDATE_WASM=1 npx vitest run test/unit/audio/stages/resample-wasm.test.ts

/** The resampler inner loop (WebAssembly binary), base64. */
export const RESAMPLE_WASM_BASE64 =
  'AGFzbQEAAAABEQFgDH9/f39/f39/f39/fwF/AwIBAAUDAQABBxACBm1lbW9yeQIAA3J1bgAACpgCAZUCAgZ/AnsgCUECdCERAkAD' +
  'QCAKIARKDQEgDCADTg0BIAggB0YEQCALIQ0FIAutIAitfiAHrYCnIQ0LIAAgDSARbGohDiAOIBFqIRAgASAKQQJ0aiEPQwAAAAD9' +
  'EyESQwAAAAD9EyETA0AgEiAP/QAEACAO/QAEAP3mAf3kASESIBMgD/0ABBAgDv0ABBD95gH95AEhEyAPQSBqIQ8gDkEgaiEOIA4g' +
  'EEkNAAsgEiAT/eQBIRIgAiAMQQJ0aiAS/R8AIBL9HwGSIBL9HwIgEv0fA5KSOAIAIAxBAWohDCAKIAVqIQogCyAGaiELIAsgB08E' +
  'QCALIAdrIQsgCkEBaiEKCwwACwtBACAKNgIAQQQgCzYCACAMCw==';
