//! What the bulk methods of the ports share on PostgreSQL: ids reserved from a table's
//! identity sequence in one statement, and rows written with binary `COPY`.

use std::error::Error as StdError;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{IsNull, ToSql, Type};

use super::*;

/// JSON text bound to a `JSONB` column in binary form (format version 1, then the text),
/// as binary `COPY` needs it.
#[derive(Debug)]
pub(crate) struct Jsonb(pub String);

impl ToSql for Jsonb {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        out.extend_from_slice(&[1]);
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }

    postgres::types::to_sql_checked!();
}

impl PgTx<'_, Writing> {
    /// `n` new ids from the identity sequence of `table`'s `id` column, ascending.
    pub(crate) fn reserve_ids(&mut self, table: &str, n: usize) -> Result<Vec<i64>> {
        let n = i64::try_from(n).map_err(|_| own(StorageErrorKind::Limit, "too many rows at once"))?;
        let rows = self.query(
            "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2::bigint) ORDER BY 1",
            &[&table, &n],
        )?;
        rows.iter().map(|r| col(r, 0)).collect()
    }

    /// Runs `COPY … FROM STDIN (FORMAT binary)` (`sql` without the `FROM` part), with
    /// columns of `types`, writing the rows `write` gives the writer.
    pub(crate) fn copy_in(
        &mut self,
        sql: &str,
        types: &[Type],
        write: impl FnOnce(&mut BinaryCopyInWriter<'_>) -> std::result::Result<(), postgres::Error>,
    ) -> Result<()> {
        let sink = self.tx.copy_in(&format!("{sql} FROM STDIN (FORMAT binary)")).pg()?;
        let mut w = BinaryCopyInWriter::new(sink, types);
        write(&mut w).pg()?;
        w.finish().pg()?;
        Ok(())
    }

    /// Claims the keys of new records of `kind` (see the `external_keys` table): one binary
    /// `COPY`; a key that is taken fails the call.
    pub(crate) fn copy_keys<'k>(
        &mut self,
        kind: &str,
        keys: impl Iterator<Item = (&'k str, CustomerId)>,
    ) -> Result<()> {
        self.copy_in("COPY external_keys (kind, key, customer_id)", &[Type::TEXT, Type::TEXT, Type::INT8], |w| {
            for (key, customer) in keys {
                w.write(&[&kind, &key, &customer.0])?;
            }
            Ok(())
        })
    }

    /// Before a bulk look-up or write: no other writer runs beside this transaction from
    /// now on (it would otherwise lock every key and customer it touches, one statement each).
    pub(crate) fn bulk(&mut self) -> Result<()> {
        self.go_alone()
    }
}
