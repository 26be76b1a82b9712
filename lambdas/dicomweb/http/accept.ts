// Accept header parsing for DICOMweb media types with their parameters (PS3.18 8.7.3 and 8.7.4).
export interface AcceptedType {
  /** e.g. "multipart/related", "application/dicom", "application/octet-stream", "image/jpeg", "*\/*" */
  type: string;
  params: Record<string, string>;
  q: number;
}

function unquote(v: string): string {
  return v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

/** Splits on commas outside quotes. */
function splitTopLevel(header: string, sep: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of header) {
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out.map((s) => s.trim()).filter(Boolean);
}

export function parseAccept(header: string | undefined): AcceptedType[] {
  if (!header || !header.trim()) return [{ type: '*/*', params: {}, q: 1 }];
  const entries = splitTopLevel(header, ',').map((entry) => {
    const [type, ...rest] = splitTopLevel(entry, ';');
    const params: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = unquote(p.slice(eq + 1).trim());
    }
    const q = params.q !== undefined ? Number(params.q) : 1;
    delete params.q;
    return { type: (type ?? '').toLowerCase(), params, q: Number.isFinite(q) ? q : 1 };
  });
  // An entry without a media type (";;", "; q=1") accepts nothing.
  return entries.filter((e) => e.type && e.q > 0).sort((a, b) => b.q - a.q);
}

/** For a multipart Accept entry, the part type (type= parameter); for a bare type, the type itself. */
export function partType(a: AcceptedType): { type: string; transferSyntax?: string; multipart: boolean } {
  if (a.type === 'multipart/related') {
    return { type: (a.params.type ?? '*/*').toLowerCase(), transferSyntax: a.params['transfer-syntax'], multipart: true };
  }
  return { type: a.type, transferSyntax: a.params['transfer-syntax'], multipart: false };
}
