import type { SqlClient } from '../master/sql-client.js';

/**
 * 核酸 and 疫苗 on the citizen's card (issue 15 item 8): the person's latest
 * nucleic-acid result and how many vaccine doses are on record, read from
 * what departments' imports wrote (exchange/: `nat-result` → `facts` of kind
 * nucleic_acid, `vaccination` → `exchange_vaccinations`).
 *
 * Why here and not in the code record: the edge serves the card from its
 * LMDB replica and the record format is fixed (DESIGN §4/§5); these two lines
 * change rarely, are not needed to show or scan a code, and a page that
 * cannot reach the back office keeps its last copy. Nothing identifying is
 * answered: the session names the person, the answer carries a result, a
 * time and a count.
 */
export interface HealthStatus {
  /** latest sample with a result, null when none is on record */
  readonly nat: { readonly result: 'negative' | 'positive'; readonly sampledAt: number } | null;
  /** highest dose on record (a 加强针 imports as dose 3), null when none */
  readonly vaccination: { readonly doses: number; readonly lastAt: number } | null;
}

const seconds = (d: Date | string): number => Math.floor(new Date(d).getTime() / 1000);

export class HealthStatusReader {
  /** exchange_vaccinations exists only with the exchange capability plugged in; checked until found */
  private vaccinationTable = false;

  constructor(private readonly db: SqlClient) {}

  async of(personId: number): Promise<HealthStatus> {
    const n = await this.db.query<{ result: 'negative' | 'positive'; at: Date }>(
      `SELECT result, at FROM facts WHERE person_id = $1 AND kind = 'nucleic_acid' AND result IS NOT NULL
        ORDER BY at DESC, id DESC LIMIT 1`,
      [personId],
    );
    let vaccination: HealthStatus['vaccination'] = null;
    if (!this.vaccinationTable) {
      const t = await this.db.query<{ ok: boolean }>("SELECT to_regclass('exchange_vaccinations') IS NOT NULL AS ok");
      this.vaccinationTable = t.rows[0]!.ok;
    }
    if (this.vaccinationTable) {
      const v = await this.db.query<{ doses: number | null; last: Date | null }>(
        'SELECT max(dose)::int AS doses, max(at) AS last FROM exchange_vaccinations WHERE person_id = $1',
        [personId],
      );
      const x = v.rows[0]!;
      if (x.doses !== null && x.last !== null) vaccination = { doses: Number(x.doses), lastAt: seconds(x.last) };
    }
    const x = n.rows[0];
    return { nat: x === undefined ? null : { result: x.result, sampledAt: seconds(x.at) }, vaccination };
  }
}
