__global__ void noop() {}
