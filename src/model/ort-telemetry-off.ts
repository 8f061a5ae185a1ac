/**
 * Turns off ONNX Runtime's usage telemetry before onnxruntime-node loads. onnxruntime-node 1.30 on
 * Linux otherwise writes a device id and an event queue under ~/.cache/Microsoft/DeveloperTools
 * and tries to send them, which a tool handling patient images must not do. Import this module
 * before 'onnxruntime-node' in every file that imports it.
 */
process.env.ORT_DISABLE_TELEMETRY = '1';

export {};
