//! Materialized property columns: per-team metadata saying that a JSON property is also stored
//! in its own column, so the printer can read `events.mat_$browser` instead of extracting it
//! from `events.properties`.
//!
//! Naming follows PostHog's `materialized_column_name`: `mat_` for event properties, `pmat_` for
//! person properties, then the property name with every character outside `[0-9a-zA-Z$]`
//! replaced by `_` (`$browser and string` → `mat_$browser_and_string`). PostHog appends a random
//! suffix when the name is already taken; here the suffix is a deterministic `_2`, `_3`, … so
//! tests are reproducible, and a caller that knows the real column name can register it as is.

/// Which JSON column a materialized property comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertySource {
    /// `events.properties` → `mat_…` on `events`.
    Event,
    /// `person.properties` → `pmat_…` on `person`.
    Person,
}

impl PropertySource {
    /// The column-name prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            PropertySource::Event => "mat_",
            PropertySource::Person => "pmat_",
        }
    }
}

/// One materialized property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaterializedColumn {
    /// The JSON column it mirrors.
    pub source: PropertySource,
    /// The property name (`$browser`).
    pub property: String,
    /// The ClickHouse column name (`mat_$browser`).
    pub column: String,
    /// Nullable columns are read bare; non-nullable ones through `nullIf(nullIf(col, ''), 'null')`.
    pub nullable: bool,
}

/// The column name PostHog derives for a property, before collision handling.
pub fn materialized_column_name(source: PropertySource, property: &str) -> String {
    let sanitized: String = property
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '$' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}{sanitized}", source.prefix())
}

/// A team's materialized columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaterializedColumns {
    columns: Vec<MaterializedColumn>,
}

impl MaterializedColumns {
    /// No materialized columns.
    pub fn new() -> Self {
        Self::default()
    }

    /// Materialize `property`, naming the column by PostHog's rule (with a `_N` suffix when the
    /// name is taken). Registering the same property twice returns the existing column.
    pub fn materialize(
        &mut self,
        source: PropertySource,
        property: &str,
        nullable: bool,
    ) -> &MaterializedColumn {
        if let Some(i) = self.position(source, property) {
            return &self.columns[i];
        }
        let base = materialized_column_name(source, property);
        let mut column = base.clone();
        let mut n = 2;
        while self.columns.iter().any(|c| c.column == column) {
            column = format!("{base}_{n}");
            n += 1;
        }
        self.push(source, property, column, nullable)
    }

    /// Register a column under a known name (e.g. read from `system.columns` comments).
    /// Replaces an earlier registration of the same property.
    pub fn register(
        &mut self,
        source: PropertySource,
        property: &str,
        column: &str,
        nullable: bool,
    ) -> &MaterializedColumn {
        if let Some(i) = self.position(source, property) {
            self.columns.remove(i);
        }
        self.push(source, property, column.to_owned(), nullable)
    }

    fn push(
        &mut self,
        source: PropertySource,
        property: &str,
        column: String,
        nullable: bool,
    ) -> &MaterializedColumn {
        self.columns.push(MaterializedColumn {
            source,
            property: property.to_owned(),
            column,
            nullable,
        });
        let last = self.columns.len() - 1;
        &self.columns[last]
    }

    fn position(&self, source: PropertySource, property: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.source == source && c.property == property)
    }

    /// The materialized column for a property, if there is one.
    pub fn get(&self, source: PropertySource, property: &str) -> Option<&MaterializedColumn> {
        self.position(source, property).map(|i| &self.columns[i])
    }

    /// All registered columns.
    pub fn iter(&self) -> impl Iterator<Item = &MaterializedColumn> {
        self.columns.iter()
    }

    /// How many columns are registered.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether none are registered.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escape::{IdentifierStyle, escape_clickhouse_identifier};

    #[test]
    fn naming_rule() {
        use PropertySource::*;
        assert_eq!(materialized_column_name(Event, "$browser"), "mat_$browser");
        assert_eq!(
            materialized_column_name(Event, "$browser and string"),
            "mat_$browser_and_string"
        );
        assert_eq!(materialized_column_name(Event, "a.b-c/d"), "mat_a_b_c_d");
        assert_eq!(materialized_column_name(Person, "email"), "pmat_email");
        assert_eq!(materialized_column_name(Event, "ünï"), "mat__n_");
        assert_eq!(materialized_column_name(Event, ""), "mat_");
    }

    #[test]
    fn materialized_names_print_as_spec_shows() {
        let name = materialized_column_name(PropertySource::Event, "$browser and string");
        assert_eq!(
            escape_clickhouse_identifier(&name, IdentifierStyle::Current).unwrap(),
            "mat_$browser_and_string"
        );
        assert_eq!(
            escape_clickhouse_identifier(&name, IdentifierStyle::Legacy).unwrap(),
            "`mat_$browser_and_string`"
        );
    }

    #[test]
    fn collisions_get_deterministic_suffixes() {
        let mut cols = MaterializedColumns::new();
        let a = cols
            .materialize(PropertySource::Event, "a b", false)
            .column
            .clone();
        let b = cols
            .materialize(PropertySource::Event, "a-b", true)
            .column
            .clone();
        let c = cols
            .materialize(PropertySource::Event, "a.b", false)
            .column
            .clone();
        assert_eq!(
            [a.as_str(), b.as_str(), c.as_str()],
            ["mat_a_b", "mat_a_b_2", "mat_a_b_3"]
        );
        // Idempotent per property.
        assert_eq!(
            cols.materialize(PropertySource::Event, "a-b", false).column,
            "mat_a_b_2"
        );
        assert_eq!(cols.len(), 3);
        assert!(cols.get(PropertySource::Event, "a-b").unwrap().nullable);
        assert!(cols.get(PropertySource::Person, "a-b").is_none());
    }

    #[test]
    fn register_known_names() {
        let mut cols = MaterializedColumns::new();
        cols.register(PropertySource::Person, "email", "pmat_email", true);
        cols.register(PropertySource::Person, "email", "pmat_email_x1", false);
        assert_eq!(cols.len(), 1);
        let col = cols.get(PropertySource::Person, "email").unwrap();
        assert_eq!(
            (col.column.as_str(), col.nullable),
            ("pmat_email_x1", false)
        );
        assert!(!cols.is_empty());
        assert_eq!(cols.iter().count(), 1);
    }
}
