/** The source cannot be rendered into a target (a refusal: nothing was changed). */
export class RenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RenderError';
  }
}
