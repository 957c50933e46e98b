/** Errors the daemon's operations raise with the HTTP status they map to; messages name the VM or field. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 409 | 500,
    message: string,
    /** The request field at fault (body.memBytes), for 400s. */
    readonly field?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const notFound = (vm: string) => new ApiError(404, `no VM named "${vm}"`);
export const conflict = (message: string) => new ApiError(409, message);
export const badField = (field: string, message: string) => new ApiError(400, `${field}: ${message}`, field);
