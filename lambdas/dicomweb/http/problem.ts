// Errors that end a request with a status and a message a DICOM user can act on.
export class HttpProblem extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 406 | 409 | 413 | 415 | 500 | 503,
    message: string,
  ) {
    super(message);
    this.name = 'HttpProblem';
  }
}

export const problemBody = (status: number, message: string) => JSON.stringify({ status, error: message });
