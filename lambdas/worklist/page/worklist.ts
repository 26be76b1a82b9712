// The reading worklist in the browser: studies from the AI pipeline's API, most urgent first, with each
// analyser's finding in words, reader feedback, and a link into the viewer. Plain DOM (every value from
// the data is set as text, never parsed as HTML); it polls, because API Gateway and Lambda answer
// whole responses only (no Server-Sent Events there), and a conditional GET every few seconds costs a
// 304 when nothing changed.
import type { AnalysisResult, AnalyserRecord, Feedback, WorklistItem } from '../../ai/ports.js';

interface PageSettings {
  /** Root of the AI pipeline's API. */
  aiRoot: string;
  /** The DICOMweb root, whose UPS-RS workitems record who read a study. */
  dicomWebRoot: string;
  /** The viewer's study route; the study's UID is added as StudyInstanceUIDs. None when no viewer is served. */
  viewerUrl?: string;
}
type ResultWithFeedback = AnalysisResult & { id: string; feedback: Feedback[] };
type Dataset = Record<string, { vr: string; Value?: unknown[] }>;

const POLL_MS = 5000;
const PRIORITY_WORDS: Record<WorklistItem['priority'], string> = { urgent: 'urgent', high: 'high', routine: 'routine' };

let settings: PageSettings;
let items: WorklistItem[] = [];
let analyserNames = new Map<string, string>();
let etag: string | undefined;
let selected: string | undefined;
let shownDetail: string | undefined;
/** Comments being written, by result id: the detail pane is rebuilt when its study changes, the reader's text is not lost. */
const drafts = new Map<string, string>();

const $ = <T extends Element>(selector: string) => document.querySelector<T>(selector)!;
const filters = () => $<HTMLFormElement>('#filters');
const field = (name: string) => filters().elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;

/** An element with text and children; strings become text nodes. */
function h(tag: string, props: Record<string, string> = {}, ...children: Array<Node | string | undefined>): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) el.setAttribute(k, v);
  for (const c of children) if (c !== undefined) el.append(c);
  return el;
}

function status(text: string, error = false): void {
  $('#status').textContent = text;
  $('#status').classList.toggle('error', error);
}

/** "Family^Given^Middle" as readers write it: "Family, Given Middle". */
function personName(pn: string): string {
  const [family = '', ...rest] = pn.split('=')[0].split('^');
  const given = rest.filter(Boolean).join(' ');
  return given ? `${family}, ${given}` : family || '(no name)';
}

const arrival = (item: WorklistItem) => new Date(item.waitingSince ?? item.updatedAt);
const localDay = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
const analyserName = (id: string) => analyserNames.get(id) ?? id;

/** The pipeline's state in words, with the reason of any failure. */
function aiState(item: WorklistItem): { text: string; failed: boolean } {
  if (item.state === 'collecting') return { text: 'waiting for the quiet period', failed: false };
  if (item.state === 'analysing') return { text: 'analysing', failed: false };
  const failures = item.flags.filter((f) => f.status === 'failed');
  if (failures.length) return { text: `failed: ${failures.map((f) => `${analyserName(f.analyserId)} (${f.summary})`).join('; ')}`, failed: true };
  return { text: 'done', failed: false };
}

function matchesFilters(item: WorklistItem): boolean {
  const priority = field('priority').value;
  const modality = field('modality').value;
  const finding = field('finding').value;
  const from = field('from').value;
  const to = field('to').value;
  if (priority && item.priority !== priority) return false;
  if (modality && !item.modalities.split(/[\\,\s]+/).includes(modality)) return false;
  if (finding === 'positive' && !item.flags.some((f) => f.positive)) return false;
  if (finding && finding !== 'positive' && !item.flags.some((f) => f.positive && f.analyserId === finding)) return false;
  const day = localDay(arrival(item));
  if (from && day < from) return false;
  if (to && day > to) return false;
  return true;
}

function viewerLink(studyInstanceUID: string): string | undefined {
  if (!settings.viewerUrl) return undefined;
  const url = new URL(settings.viewerUrl, window.location.href);
  url.searchParams.set('StudyInstanceUIDs', studyInstanceUID);
  return url.href;
}

/** An "open in the viewer" link, when there is a viewer. */
function openLink(studyInstanceUID: string, text: string, props: Record<string, string> = {}): HTMLElement | undefined {
  const href = viewerLink(studyInstanceUID);
  return href ? h('a', { href, ...props }, text) : undefined;
}

/** Keeps a select's options to the values the data holds, keeping the reader's choice. */
function offer(select: HTMLSelectElement, values: Array<[string, string]>, fixed: number): void {
  const current = select.value;
  while (select.options.length > fixed) select.remove(fixed);
  for (const [value, label] of values) select.add(new Option(label, value));
  select.value = values.some(([v]) => v === current) || !current ? current : '';
}

function render(): void {
  const modalities = [...new Set(items.flatMap((i) => i.modalities.split(/[\\,\s]+/).filter(Boolean)))].sort();
  offer(field('modality') as HTMLSelectElement, modalities.map((m) => [m, m]), 1);
  const positives = [...new Set(items.flatMap((i) => i.flags.filter((f) => f.positive).map((f) => f.analyserId)))].sort();
  offer(field('finding') as HTMLSelectElement, positives.map((id) => [id, analyserName(id)]), 2);
  const shown = items.filter(matchesFilters);
  if (!shown.some((i) => i.studyInstanceUID === selected)) selected = shown[0]?.studyInstanceUID;
  const rows = shown.map((item) => {
    const ai = aiState(item);
    // The same analyser on the same line of every study, whatever order their results came in.
    const flags = item.flags.filter((f) => f.status !== 'failed').sort((a, b) => analyserName(a.analyserId).localeCompare(analyserName(b.analyserId)));
    const findings = h('ul', { class: 'findings' }, ...flags.map((f) => h('li', { class: f.positive ? 'positive' : '' }, `${analyserName(f.analyserId)}: ${f.summary}`)));
    const row = h(
      'tr',
      { 'data-study': item.studyInstanceUID, 'aria-selected': String(item.studyInstanceUID === selected), tabindex: '-1' },
      h('td', {}, h('span', { class: `priority ${item.priority}` }, PRIORITY_WORDS[item.priority]), item.reason ? h('div', { class: 'hint' }, item.reason) : undefined),
      h('td', {}, personName(item.patientName), h('div', { class: 'hint' }, item.patientID)),
      h('td', {}, item.studyDescription || '(no description)'),
      h('td', {}, item.modalities),
      h('td', {}, arrival(item).toLocaleString()),
      h('td', { class: ai.failed ? 'ai failed' : 'ai' }, ai.text),
      h('td', { class: 'findings-column' }, findings),
      h('td', {}, openLink(item.studyInstanceUID, 'Open', { class: 'open' })),
    );
    row.addEventListener('click', () => select(item.studyInstanceUID));
    return row;
  });
  $('#worklist tbody').replaceChildren(...rows);
  const empty = $<HTMLElement>('#empty');
  empty.hidden = shown.length > 0;
  empty.textContent = items.length ? 'No study matches these filters.' : 'No studies yet: studies stored in the archive (npm run upload -- <folder>, STOW-RS, a modality) appear here as they arrive.';
  status(`${shown.length} of ${items.length} studies · updated ${new Date().toLocaleTimeString()}`);
  void refreshDetail();
}

function select(studyInstanceUID: string | undefined): void {
  selected = studyInstanceUID;
  for (const row of document.querySelectorAll<HTMLElement>('#worklist tbody tr')) {
    const on = row.dataset.study === selected;
    row.setAttribute('aria-selected', String(on));
    if (on) row.scrollIntoView({ block: 'nearest' });
  }
  void refreshDetail();
}

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(`${settings.aiRoot}${path}`, init);
  const body = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(body.error ?? `${response.status} ${response.statusText}`);
  return body;
}

/** showDetail, its failure said in the status line rather than lost. */
const refreshDetail = (force = false) => showDetail(force).catch((e: Error) => status(`The study's results could not be read: ${e.message}`, true));

/** The selected study's results (the latest revision of each analyser) with agree/disagree and what readers said. */
async function showDetail(force = false): Promise<void> {
  const item = items.find((i) => i.studyInstanceUID === selected);
  const key = item ? `${item.studyInstanceUID}@${item.revision}@${item.updatedAt}` : undefined;
  if (!force && key === shownDetail) return;
  shownDetail = key;
  const detail = $('#detail');
  if (!item) {
    detail.replaceChildren(h('p', { class: 'hint' }, 'No study selected.'));
    return;
  }
  const results = await api<ResultWithFeedback[]>(`/studies/${encodeURIComponent(item.studyInstanceUID)}/results`);
  const latest = new Map<string, ResultWithFeedback>();
  for (const r of results) if ((latest.get(r.analyserId)?.revision ?? -1) <= r.revision) latest.set(r.analyserId, r);
  const sections = [...latest.values()].map((r) => {
    const comment = h('textarea', { rows: '2', placeholder: 'comment (optional)', 'aria-label': `comment on ${analyserName(r.analyserId)}` }) as HTMLTextAreaElement;
    comment.value = drafts.get(r.id) ?? '';
    comment.addEventListener('input', () => drafts.set(r.id, comment.value));
    const button = (verdict: 'accept' | 'reject', label: string) => {
      const b = h('button', { type: 'button', 'data-verdict': verdict }, label);
      b.addEventListener('click', () => void sendFeedback(r, verdict, drafts.get(r.id) ?? ''));
      return b;
    };
    const said = r.feedback.map((f) => h('li', {}, `${f.verdict === 'accept' ? 'agreed' : f.verdict === 'reject' ? 'disagreed' : 'corrected'} — ${f.reader}, ${new Date(f.at).toLocaleString()}${f.comment ? `: ${f.comment}` : ''}`));
    return h(
      'section',
      { class: 'result', 'data-result': r.id },
      h('h3', {}, `${analyserName(r.analyserId)} (${r.analyserVersion})`),
      h('p', {}, r.status === 'failed' ? `failed: ${r.summary}` : r.summary),
      comment,
      button('accept', 'Agree'),
      ' ',
      button('reject', 'Disagree'),
      h('ul', { class: 'feedback' }, ...said),
    );
  });
  const reading = await readingStatus(item.studyInstanceUID);
  // The reader may have moved on while this study's results were read: theirs is shown, not this one.
  if (selected !== item.studyInstanceUID) {
    if (shownDetail === key) shownDetail = undefined;
    return;
  }
  detail.replaceChildren(
    h('h2', {}, `${personName(item.patientName)} — ${item.studyDescription || 'study'}`),
    h('p', {}, openLink(item.studyInstanceUID, 'Open in the viewer')),
    reading,
    ...(sections.length ? sections : [h('p', { class: 'hint' }, 'No results yet.')]),
  );
}

// ---- Reading, as a UPS-RS workitem (PS3.18 Section 11): claimed, then completed by the reader.

const firstValue = (ds: Dataset | undefined, tag: string) => ds?.[tag]?.Value?.[0];

async function readingWorkitem(studyInstanceUID: string): Promise<Dataset | undefined> {
  const query = new URLSearchParams({ StudyInstanceUID: studyInstanceUID, WorklistLabel: 'Reading worklist', limit: '1' });
  const response = await fetch(`${settings.dicomWebRoot}/workitems?${query}`);
  if (!response.ok) throw new Error(`${response.status}`);
  return ((await response.json()) as Dataset[])[0];
}

async function readingStatus(studyInstanceUID: string): Promise<HTMLElement> {
  const workitem = await readingWorkitem(studyInstanceUID).catch(() => undefined);
  const state = firstValue(workitem, '00741000');
  if (!workitem) return h('p', { class: 'hint reading' }, 'No reading workitem.');
  if (state === 'COMPLETED') {
    const performed = firstValue(workitem, '00741216') as Dataset | undefined;
    const reader = (firstValue(firstValue(performed, '00404035') as Dataset | undefined, '00404037') as { Alphabetic?: string } | undefined)?.Alphabetic;
    return h('p', { class: 'reading' }, `Read${reader ? ` by ${reader}` : ''}.`);
  }
  if (state !== 'SCHEDULED') return h('p', { class: 'reading' }, `Reading: ${String(state).toLowerCase()}.`);
  const button = h('button', { type: 'button', class: 'mark-read' }, 'Mark read');
  button.addEventListener('click', () => void markRead(studyInstanceUID, workitem));
  return h('p', { class: 'reading' }, button);
}

const dicomDateTime = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + '+0000';
const newUid = () => `2.25.${BigInt(`0x${crypto.randomUUID().replace(/-/g, '')}`).toString(10)}`;

/** Claims the workitem (IN PROGRESS), records who read it and when, and completes it. */
async function markRead(studyInstanceUID: string, workitem: Dataset): Promise<void> {
  const reader = field('reader').value.trim();
  if (!reader) {
    status('Give your name as reader before marking a study read.');
    field('reader').focus();
    return;
  }
  const url = `${settings.dicomWebRoot}/workitems/${String(firstValue(workitem, '00080018'))}`;
  const transaction = newUid();
  const send = async (method: string, path: string, body: Dataset) => {
    const response = await fetch(`${url}${path}`, { method, headers: { 'Content-Type': 'application/dicom+json' }, body: JSON.stringify([body]) });
    if (!response.ok) throw new Error(((await response.json()) as { error?: string }).error ?? String(response.status));
  };
  const stateChange = (value: string): Dataset => ({ '00741000': { vr: 'CS', Value: [value] }, '00081195': { vr: 'UI', Value: [transaction] } });
  try {
    const started = dicomDateTime(new Date());
    await send('PUT', '/state', stateChange('IN PROGRESS'));
    await send('POST', `?transaction=${transaction}`, {
      '00741216': {
        vr: 'SQ',
        Value: [{ '00404050': { vr: 'DT', Value: [started] }, '00404051': { vr: 'DT', Value: [dicomDateTime(new Date())] }, '00404035': { vr: 'SQ', Value: [{ '00404037': { vr: 'PN', Value: [{ Alphabetic: reader }] } }] } }],
      },
    });
    await send('PUT', '/state', stateChange('COMPLETED'));
    status(`Marked read by ${reader}.`);
  } catch (e) {
    status(`Not marked read: ${(e as Error).message}`, true);
  }
  if (studyInstanceUID === selected) await refreshDetail(true);
}

async function sendFeedback(result: ResultWithFeedback, verdict: 'accept' | 'reject', comment: string): Promise<void> {
  const reader = field('reader').value.trim();
  if (!reader) {
    status('Give your name as reader before agreeing or disagreeing.');
    field('reader').focus();
    return;
  }
  try {
    await api(`/results/${encodeURIComponent(result.id)}/feedback`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ verdict, reader, ...(comment.trim() ? { comment: comment.trim() } : {}) }),
    });
    drafts.delete(result.id);
    status(`Feedback sent: ${verdict === 'accept' ? 'agreed with' : 'disagreed with'} ${analyserName(result.analyserId)}.`);
    await refreshDetail(true);
  } catch (e) {
    status(`Feedback not sent: ${(e as Error).message}`, true);
  }
}

/** Reads the worklist again; a 304 (nothing changed since the last read) costs no rendering. */
async function poll(): Promise<void> {
  try {
    const response = await fetch(`${settings.aiRoot}/worklist?limit=1000`, { headers: etag ? { 'If-None-Match': etag } : {} });
    if (response.status === 304) return;
    if (!response.ok) throw new Error(((await response.json()) as { error?: string }).error ?? String(response.status));
    etag = response.headers.get('ETag') ?? undefined;
    items = (await response.json()) as WorklistItem[];
    render();
  } catch (e) {
    status(`The worklist could not be read: ${(e as Error).message}; trying again.`, true);
  }
}

function onKey(event: KeyboardEvent): void {
  if (event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement || event.target instanceof HTMLSelectElement) return;
  const rows = [...document.querySelectorAll<HTMLElement>('#worklist tbody tr')];
  const at = rows.findIndex((r) => r.dataset.study === selected);
  if (event.key === 'ArrowDown' || event.key === 'j') select(rows[Math.min(rows.length - 1, at + 1)]?.dataset.study);
  else if (event.key === 'ArrowUp' || event.key === 'k') select(rows[Math.max(0, at - 1)]?.dataset.study);
  else if ((event.key === 'Enter' || event.key === 'o') && selected && viewerLink(selected)) window.location.href = viewerLink(selected)!;
  else if (event.key === '/') field('priority').focus();
  else return;
  event.preventDefault();
}

async function start(): Promise<void> {
  settings = (await (await fetch('config.json')).json()) as PageSettings;
  field('reader').value = localStorage.getItem('worklist.reader') ?? '';
  field('reader').addEventListener('change', () => localStorage.setItem('worklist.reader', field('reader').value.trim()));
  filters().addEventListener('change', (e) => (e.target as Element).getAttribute('name') !== 'reader' && render());
  filters().addEventListener('submit', (e) => e.preventDefault());
  document.addEventListener('keydown', onKey);
  analyserNames = new Map((await api<AnalyserRecord[]>('/analysers')).map((a) => [a.id, a.name]));
  await poll();
  // Not while the tab is hidden; at once when it is shown again.
  setInterval(() => document.visibilityState === 'visible' && void poll(), POLL_MS);
  document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && void poll());
}

void start();
