// An overview of a tiled whole-slide image (PS3.3 C.8.12.4.1.4, TILED_FULL): a thumbnail of the whole slide
// rather than of one of its tens of thousands of tiles. Decoding every tile would take a minute, so a grid
// of evenly spaced tiles is decoded and each is shown in the cell of the slide it stands for.
import { firstString, type DicomJson } from '../dicom/json-model.js';
import type { Picture } from './render.js';

export interface SlideTiling {
  /** Tiles across and down the total pixel matrix (one focal plane, one optical path). */
  across: number;
  down: number;
  totalColumns: number;
  totalRows: number;
}

/** A tile shown in the overview: its frame (0-based) and the rectangle of the overview it fills. */
export interface OverviewCell {
  frameIndex: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** At most this many tiles across and down are decoded for an overview (400 tiles, about a second). */
const MAX_GRID = 20;

const firstNumber = (json: DicomJson, hex: string): number => Number(json[hex]?.Value?.[0] ?? NaN);

/** The tiling of a TILED_FULL multi-frame image, or undefined for any other image. */
export function slideTiling(metadata: DicomJson): SlideTiling | undefined {
  if (firstString(metadata, 0x00209311) !== 'TILED_FULL') return undefined;
  const [rows, columns] = [firstNumber(metadata, '00280010'), firstNumber(metadata, '00280011')];
  const [totalColumns, totalRows] = [firstNumber(metadata, '00480006'), firstNumber(metadata, '00480007')];
  const frames = firstNumber(metadata, '00280008');
  if (![rows, columns, totalColumns, totalRows, frames].every((n) => Number.isInteger(n) && n > 0)) return undefined;
  const across = Math.ceil(totalColumns / columns);
  const down = Math.ceil(totalRows / rows);
  // Frames go across, then down, then through focal planes and optical paths: the first plane must be whole.
  if (across * down > frames || across * down < 2) return undefined;
  return { across, down, totalColumns, totalRows };
}

/** The overview's size within `size` × `size`, keeping the slide's proportions. */
export function overviewSize(tiling: SlideTiling, size: number): { width: number; height: number } {
  const scale = size / Math.max(tiling.totalColumns, tiling.totalRows);
  return { width: Math.max(1, Math.round(tiling.totalColumns * scale)), height: Math.max(1, Math.round(tiling.totalRows * scale)) };
}

/** The tiles to decode and where each goes: a grid of at most MAX_GRID × MAX_GRID cells over the overview. */
export function overviewCells(tiling: SlideTiling, overview: { width: number; height: number }): OverviewCell[] {
  const gx = Math.min(tiling.across, MAX_GRID, overview.width);
  const gy = Math.min(tiling.down, MAX_GRID, overview.height);
  const cells: OverviewCell[] = [];
  for (let cy = 0; cy < gy; cy++) {
    const y = Math.floor((cy * overview.height) / gy);
    const tileRow = Math.min(tiling.down - 1, Math.floor(((cy + 0.5) * tiling.down) / gy));
    for (let cx = 0; cx < gx; cx++) {
      const x = Math.floor((cx * overview.width) / gx);
      const tileColumn = Math.min(tiling.across - 1, Math.floor(((cx + 0.5) * tiling.across) / gx));
      cells.push({
        frameIndex: tileRow * tiling.across + tileColumn,
        x,
        y,
        width: Math.floor(((cx + 1) * overview.width) / gx) - x,
        height: Math.floor(((cy + 1) * overview.height) / gy) - y,
      });
    }
  }
  return cells;
}

/** The overview: each cell filled with its tile's picture, scaled to the cell (nearest sample). */
export function composeOverview(overview: { width: number; height: number }, cells: OverviewCell[], tiles: Picture[]): Picture {
  const rgba = new Uint8Array(overview.width * overview.height * 4).fill(255);
  cells.forEach((cell, i) => {
    const tile = tiles[i];
    for (let y = 0; y < cell.height; y++) {
      const sy = Math.min(tile.height - 1, Math.floor(((y + 0.5) * tile.height) / cell.height));
      for (let x = 0; x < cell.width; x++) {
        const sx = Math.min(tile.width - 1, Math.floor(((x + 0.5) * tile.width) / cell.width));
        const from = (sy * tile.width + sx) * 4;
        rgba.set(tile.rgba.subarray(from, from + 4), ((cell.y + y) * overview.width + cell.x + x) * 4);
      }
    }
  });
  return { ...overview, rgba };
}
