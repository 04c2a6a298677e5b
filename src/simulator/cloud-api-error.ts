// An error answer of a simulated cloud control plane: the HTTP status, the cloud's error code and
// its message. Each API (ec2-api.ts, ecs-api.ts, cvm-api.ts, arm-api.ts) throws it from deep in a
// call and turns it into that cloud's error body in one place.
export class CloudApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CloudApiError';
  }
}
