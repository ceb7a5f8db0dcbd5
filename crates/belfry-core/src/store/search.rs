//! Text search over the inbox: the trigram index, and a scan folded the
//! same way for what the index cannot answer. Both match the text as the
//! window's rows show it: without the characters that draw nothing
//! ([`belfry_proto::text::HIDDEN`]), so "pay\u{200B}ment", shown as
//! "payment", is found by "payment".

use super::*;

/// The index's schema version (the `search_index` key in `meta`): 1 indexed
/// the raw text, 2 the text as shown.
const INDEX_VERSION: &str = "2";

/// Text search: an FTS5 index of title and body with the trigram tokenizer
/// (any substring of three or more characters, case-insensitive), kept by
/// triggers. `LIKE '%…%'` read every row (58 ms at 100,000 notifications,
/// budget 20 ms).
///
/// External content: the text is not stored twice. The content is a view of
/// the rows as shown (`belfry_plain`), so that FTS5's own `rebuild` and
/// `integrity-check` read what the triggers index. It is keyed by the
/// implicit rowid, which VACUUM may renumber: the store never runs it, and
/// anything that does must rebuild the index (drop the `search_index` key).
/// The triggers call `belfry_plain`, which each connection registers
/// ([`register_functions`]): a connection without it cannot write rows.
const SCHEMA: &str = "
CREATE VIEW IF NOT EXISTS notifications_shown AS
    SELECT rowid AS rid, belfry_plain(title) AS title, belfry_plain(body) AS body
    FROM notifications;
CREATE VIRTUAL TABLE IF NOT EXISTS notifications_fts USING fts5(
    title, body, content = 'notifications_shown', content_rowid = 'rid',
    tokenize = 'trigram');
CREATE TRIGGER IF NOT EXISTS search_on_insert AFTER INSERT ON notifications BEGIN
    INSERT INTO notifications_fts (rowid, title, body)
    VALUES (NEW.rowid, belfry_plain(NEW.title), belfry_plain(NEW.body));
END;
CREATE TRIGGER IF NOT EXISTS search_on_delete AFTER DELETE ON notifications BEGIN
    INSERT INTO notifications_fts (notifications_fts, rowid, title, body)
    VALUES ('delete', OLD.rowid, belfry_plain(OLD.title), belfry_plain(OLD.body));
END;
-- Only the text: marking read (the common update) leaves the index alone.
CREATE TRIGGER IF NOT EXISTS search_on_update AFTER UPDATE OF title, body ON notifications BEGIN
    INSERT INTO notifications_fts (notifications_fts, rowid, title, body)
    VALUES ('delete', OLD.rowid, belfry_plain(OLD.title), belfry_plain(OLD.body));
    INSERT INTO notifications_fts (rowid, title, body)
    VALUES (NEW.rowid, belfry_plain(NEW.title), belfry_plain(NEW.body));
END;
";

/// Makes the index current: a store made before the index, or with an
/// index of an older version (the raw text), gets it built from the rows,
/// once (about 2 s at 100,000 notifications).
pub(super) fn migrate(conn: &Connection) -> Result<()> {
    if Store::meta(conn, "search_index")?.as_deref() == Some(INDEX_VERSION) {
        return Ok(());
    }
    conn.execute_batch(&format!(
        "BEGIN;
         DROP TRIGGER IF EXISTS search_on_insert;
         DROP TRIGGER IF EXISTS search_on_delete;
         DROP TRIGGER IF EXISTS search_on_update;
         DROP TABLE IF EXISTS notifications_fts;
         DROP VIEW IF EXISTS notifications_shown;
         {SCHEMA}
         INSERT INTO notifications_fts (notifications_fts) VALUES ('rebuild');
         INSERT INTO meta (key, value) VALUES ('search_index', '{INDEX_VERSION}')
             ON CONFLICT (key) DO UPDATE SET value = excluded.value;
         COMMIT;"
    ))?;
    Ok(())
}

/// `text` as the rows show it.
pub(super) fn shown(text: &str) -> String {
    belfry_proto::text::plain(text)
}

/// The trigram index holds three-character substrings: a shorter text can
/// only be found by reading the rows (`LIKE`). FTS5 reads its query string
/// up to a NUL, so a text holding one is scanned too.
pub(super) fn indexed(text: &str) -> bool {
    text.chars().count() >= 3 && !text.contains('\0')
}

/// Up to this many matches a search sorts them all by `seq`; beyond, it
/// walks the index newest first and stops after a page (see [`search`]).
const FEW_MATCHES: i64 = 200;

/// The filters other than the text, as `AND` terms over `notifications AS n`.
fn conditions(f: &Filter, args: &mut Vec<Value>) -> String {
    let mut sql = String::new();
    if f.unread {
        sql.push_str(" AND n.read_at IS NULL");
    }
    if let Some(c) = f.category {
        args.push(c.as_str().to_owned().into());
        sql.push_str(&format!(" AND n.category = ?{}", args.len()));
    }
    if let Some(before) = f.before {
        args.push(i64::try_from(before).unwrap_or(i64::MAX).into());
        sql.push_str(&format!(" AND n.seq < ?{}", args.len()));
    }
    sql
}

fn limit(f: &Filter) -> i64 {
    i64::from(f.limit.max(1))
}

/// The SQL function the scan compares folded text with.
const FOLD: &str = "belfry_fold";

/// The SQL function the index reads the text through ([`SCHEMA`]).
const PLAIN: &str = "belfry_plain";

/// The text as shown, with case folded for every script, as the trigram
/// index folds and as the window's own filter (JavaScript's `toLowerCase`)
/// does: SQLite's `LIKE` and `lower` fold ASCII only, so "пр" would not
/// find "Привіт" in a scan while the index and the window did.
fn fold(text: &str) -> String {
    shown(text).to_lowercase()
}

/// Registers `belfry_fold` and `belfry_plain` on `conn`: every connection
/// to the store needs them (the index's triggers call `belfry_plain`).
pub(super) fn register_functions(conn: &Connection) -> Result<()> {
    use rusqlite::functions::FunctionFlags;
    let text_function = |name: &str, f: fn(&str) -> String| {
        conn.create_scalar_function(
            name,
            1,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            move |ctx| {
                Ok(match ctx.get_raw(0) {
                    rusqlite::types::ValueRef::Text(t) => f(&String::from_utf8_lossy(t)),
                    _ => String::new(),
                })
            },
        )
    };
    text_function(FOLD, fold)?;
    text_function(PLAIN, shown)?;
    Ok(())
}

/// A page by reading the rows newest first: no text, or one the index
/// cannot answer (shorter than a trigram). Folded as the index folds.
pub(super) fn scan(conn: &Connection, f: &Filter, text: Option<&str>) -> Result<Vec<Notification>> {
    let mut args = Vec::new();
    let mut sql = format!(
        "SELECT n.* FROM notifications AS n WHERE 1 = 1{}",
        conditions(f, &mut args)
    );
    if let Some(text) = text {
        args.push(fold(text).into());
        let n = args.len();
        sql.push_str(&format!(
            " AND (instr({FOLD}(n.title), ?{n}) > 0 OR instr({FOLD}(n.body), ?{n}) > 0)"
        ));
    }
    args.push(limit(f).into());
    sql.push_str(&format!(
        " ORDER BY n.seq DESC, n.rowid DESC LIMIT ?{}",
        args.len()
    ));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), row_to_notification)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A page of the notifications whose title or body holds `text` (three
/// characters or more), through the trigram index.
///
/// The index yields matches in rowid (insertion) order; the page is in
/// `seq` order. Few matches are all fetched and sorted. Many are walked
/// from the newest inserted and the walk stops after a page: sorting all of
/// a common word's matches took hundreds of milliseconds. Few are not
/// walked, as FTS5 cannot skip ahead backwards: a rare phrase walked so
/// reads whole lists of its common trigrams (15 ms, against 1 ms forwards).
/// Insertion order is `seq` order except for rows stored late (a resync's
/// older items): those that could still belong on the page are looked up
/// apart.
pub(super) fn search(conn: &Connection, f: &Filter, text: &str) -> Result<Vec<Notification>> {
    // One FTS5 string: its quotes doubled, nothing in it is query syntax.
    let query = format!("\"{}\"", text.replace('"', "\"\""));
    let matches: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM (SELECT rowid FROM notifications_fts
             WHERE notifications_fts MATCH ?1 LIMIT ?2)",
        )?
        .query_row(params![query, FEW_MATCHES + 1], |r| r.get(0))?;
    let mut args: Vec<Value> = vec![query.into()];
    let terms = conditions(f, &mut args);
    let from_index =
        "FROM notifications_fts AS f CROSS JOIN notifications AS n ON n.rowid = f.rowid
         WHERE f.notifications_fts MATCH ?1";
    args.push(limit(f).into());
    let k = args.len();
    if matches <= FEW_MATCHES {
        let sql =
            format!("SELECT n.* {from_index}{terms} ORDER BY n.seq DESC, n.rowid DESC LIMIT ?{k}");
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), row_to_notification)?;
        return Ok(rows.collect::<rusqlite::Result<_>>()?);
    }
    let with_rowid = |r: &rusqlite::Row<'_>| Ok((r.get::<_, i64>(0)?, row_to_notification(r)?));
    let sql = format!("SELECT n.rowid, n.* {from_index}{terms} ORDER BY f.rowid DESC LIMIT ?{k}");
    let mut page: Vec<(i64, Notification)> = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(args.iter()), with_rowid)?
        .collect::<rusqlite::Result<_>>()?;
    let oldest = page.iter().map(|(_, n)| n.seq).min();
    let lowest = page.iter().map(|(rowid, _)| *rowid).min();
    if let (Some(oldest), Some(lowest)) = (oldest, lowest)
        && i64::try_from(page.len()).unwrap_or(i64::MAX) >= limit(f)
    {
        // Every match from rowid `lowest` up was seen; one stored before it
        // belongs on the page only with a `seq` at least the page's oldest.
        args.truncate(k - 1);
        args.push(i64::try_from(oldest).unwrap_or(i64::MAX).into());
        args.push(lowest.into());
        let (s, r) = (args.len() - 1, args.len());
        let sql = format!(
            "SELECT n.rowid, n.* FROM notifications AS n
             CROSS JOIN notifications_fts AS f ON f.rowid = n.rowid
             WHERE n.seq >= ?{s} AND +n.rowid < ?{r}{terms} AND f.notifications_fts MATCH ?1"
        );
        let late = conn
            .prepare_cached(&sql)?
            .query_map(params_from_iter(args), with_rowid)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        page.extend(late);
    }
    page.sort_by(|(ra, a), (rb, b)| b.seq.cmp(&a.seq).then(rb.cmp(ra)));
    page.truncate(usize::try_from(limit(f)).unwrap_or(usize::MAX));
    Ok(page.into_iter().map(|(_, n)| n).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(seq: u64, title: &str, body: &str) -> Notification {
        Notification {
            id: format!("id{seq}"),
            seq,
            type_id: "ticket_created".into(),
            category: Category::Events,
            title: title.into(),
            body: body.into(),
            link: None,
            created_at: Utc::now(),
            read_at: None,
            data: Default::default(),
        }
    }

    /// `s` with `notes` stored in it.
    fn filled(s: Store, notes: Vec<Notification>) -> Store {
        s.apply(
            &notes
                .into_iter()
                .map(Event::Notification)
                .collect::<Vec<_>>(),
        )
        .unwrap();
        s
    }

    fn store_with(notes: Vec<Notification>) -> Store {
        filled(Store::in_memory().unwrap(), notes)
    }

    fn text(t: &str) -> Filter {
        Filter {
            text: Some(t.into()),
            limit: 50,
            ..Filter::default()
        }
    }

    fn ids(page: &[Notification]) -> Vec<u64> {
        page.iter().map(|n| n.seq).collect()
    }

    /// The page through the index and through the `LIKE` scan.
    fn both(s: &Store, f: &Filter) -> (Vec<u64>, Vec<u64>) {
        let indexed = ids(&s.page(f).unwrap());
        let conn = s.lock();
        let scanned = ids(&scan(&conn, f, f.text.as_deref()).unwrap());
        (indexed, scanned)
    }

    /// FTS5's own check of the index against the rows.
    fn index_sound(s: &Store) {
        s.lock()
            .execute(
                "INSERT INTO notifications_fts (notifications_fts) VALUES ('integrity-check')",
                [],
            )
            .unwrap();
    }

    #[test]
    fn the_bundled_sqlite_has_fts5() {
        let s = Store::in_memory().unwrap();
        let on: bool = s
            .lock()
            .query_row("SELECT sqlite_compileoption_used('ENABLE_FTS5')", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(on);
    }

    #[test]
    fn substrings_of_title_and_body_in_any_case() {
        let s = store_with(vec![
            note(1, "New Ticket #17", "Printer on fire"),
            note(2, "Chat waiting", "A customer asks about a REFUND"),
            note(3, "ticketing down", ""),
        ]);
        assert_eq!(ids(&s.page(&text("icke")).unwrap()), vec![3, 1]);
        assert_eq!(ids(&s.page(&text("TICKET")).unwrap()), vec![3, 1]);
        assert_eq!(ids(&s.page(&text("t #1")).unwrap()), vec![1]);
        assert_eq!(ids(&s.page(&text("on fi")).unwrap()), vec![1]);
        assert_eq!(ids(&s.page(&text("refund")).unwrap()), vec![2]);
        assert_eq!(ids(&s.page(&text("a customer asks")).unwrap()), vec![2]);
        // Across title and body is no substring of either.
        assert!(s.page(&text("#17Printer")).unwrap().is_empty());
        assert!(s.page(&text("tickets")).unwrap().is_empty());
        // The index folds case beyond ASCII too (LIKE folds only ASCII).
        let s = store_with(vec![note(1, "ÉCOLE fermée", "")]);
        assert_eq!(ids(&s.page(&text("école")).unwrap()), vec![1]);
    }

    #[test]
    fn ukrainian_text_is_found_in_any_case_through_the_index_and_the_scan() {
        let s = store_with(vec![
            note(1, "Привіт, Їжаку", "Клієнт чекає на ҐАНОК"),
            note(2, "ЄДИНИЙ запит", "ще одне"),
            note(3, "Hello", "world"),
        ]);
        // Through the trigram index (three characters or more).
        assert_eq!(ids(&s.page(&text("ПРИВІТ")).unwrap()), vec![1]);
        assert_eq!(ids(&s.page(&text("їжак")).unwrap()), vec![1]);
        assert_eq!(ids(&s.page(&text("ґанок")).unwrap()), vec![1]);
        assert_eq!(ids(&s.page(&text("єдиний")).unwrap()), vec![2]);
        // Shorter ones are scanned, folded the same way.
        assert_eq!(ids(&s.page(&text("пр")).unwrap()), vec![1]);
        assert_eq!(ids(&s.page(&text("Ї")).unwrap()), vec![1]);
        assert_eq!(ids(&s.page(&text("єд")).unwrap()), vec![2]);
        // And the two paths agree.
        for t in ["ПРИВІТ", "їжак", "ґанок", "єдиний", "ще"] {
            let (indexed, scanned) = both(&s, &text(t));
            assert_eq!(indexed, scanned, "{t}");
        }
    }

    #[test]
    fn one_and_two_characters_are_scanned() {
        let s = store_with(vec![
            note(1, "a", "x"),
            note(2, "B2", "100%"),
            note(3, "b_", ""),
            note(4, "ab", "c"),
        ]);
        assert_eq!(ids(&s.page(&text("a")).unwrap()), vec![4, 1]);
        assert_eq!(ids(&s.page(&text("B")).unwrap()), vec![4, 3, 2]);
        assert_eq!(ids(&s.page(&text("b2")).unwrap()), vec![2]);
        assert_eq!(ids(&s.page(&text("%")).unwrap()), vec![2]);
        assert_eq!(ids(&s.page(&text("_")).unwrap()), vec![3]);
        assert_eq!(ids(&s.page(&text("0%")).unwrap()), vec![2]);
    }

    #[test]
    fn query_syntax_in_the_text_is_only_text() {
        let s = store_with(vec![
            note(1, r#"say "hi" NEAR(me) OR * not"#, "title:x -y ^z"),
            note(2, "a OR b", r#"50% of \ and _ and 'quotes'"#),
            note(3, "NEAR", "AND NOT"),
            note(4, r#""""#, "*"),
        ]);
        let hostile = [
            r#"""#,
            r#""""#,
            r#"""""#,
            r#""hi""#,
            r#"" OR ""#,
            "*",
            "* n",
            "NEAR(",
            "NEAR(me)",
            "NEAR",
            "OR",
            "a OR b",
            "OR b",
            "AND NOT",
            "NOT",
            "title:x",
            "x -y",
            "^z",
            "(me",
            "me)",
            "'quotes'",
            r"of \ and",
            r"\",
            "50%",
            "_ and",
            "% of",
            "a\0b",
            "ab\0cd",
        ];
        for q in hostile {
            let (indexed, scanned) = both(&s, &text(q));
            assert_eq!(indexed, scanned, "{q:?}");
        }
        assert_eq!(ids(&s.page(&text("OR")).unwrap()), vec![2, 1]);
        assert_eq!(ids(&s.page(&text("NEAR(")).unwrap()), vec![1]);
        assert_eq!(ids(&s.page(&text(r#""hi""#)).unwrap()), vec![1]);
        assert_eq!(ids(&s.page(&text("* n")).unwrap()), vec![1]);
    }

    #[test]
    fn the_index_follows_reads_resyncs_deletes_and_pruning() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("inbox.db")).unwrap();
        let notes: Vec<Event> = (10..20)
            .map(|i| Event::Notification(note(i, &format!("invoice {i}"), "overdue")))
            .collect();
        s.apply(&notes).unwrap();
        s.apply(&notes).unwrap(); // duplicates change nothing
        assert_eq!(s.page(&text("invoice")).unwrap().len(), 10);
        s.mark_read(&["id10".into(), "id11".into()]).unwrap();
        assert_eq!(s.page(&text("overdue")).unwrap().len(), 10);
        // A resync brings older items, stored after the newer ones.
        let older: Vec<Notification> = (1..5)
            .map(|i| note(i, &format!("invoice {i}"), "older"))
            .collect();
        s.merge_snapshot(&older, &(1..20).map(|i| format!("id{i}")).collect(), 20)
            .unwrap();
        let page = ids(&s.page(&text("invoice")).unwrap());
        assert_eq!(
            page,
            (1..20)
                .rev()
                .filter(|i| !(5..10).contains(i))
                .collect::<Vec<_>>()
        );
        index_sound(&s);
        s.mark_all_read(15).unwrap();
        assert_eq!(
            s.prune(Retention {
                max_read: 0,
                max_age_days: 30
            })
            .unwrap(),
            10
        );
        assert_eq!(
            ids(&s.page(&text("invoice")).unwrap()),
            vec![19, 18, 17, 16]
        );
        assert!(s.page(&text("older")).unwrap().is_empty());
        index_sound(&s);
        s.lock().execute("DELETE FROM notifications", []).unwrap();
        assert!(s.page(&text("invoice")).unwrap().is_empty());
        index_sound(&s);
    }

    #[test]
    fn an_older_store_is_indexed_once_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox.db");
        drop(store_at(
            &path,
            (1..=5).map(|i| note(i, "renewal due", "")).collect(),
        ));
        // As a version before the index left it, rows added after that too.
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "DROP TRIGGER search_on_insert; DROP TRIGGER search_on_delete;
                 DROP TRIGGER search_on_update; DROP TABLE notifications_fts;
                 DROP VIEW notifications_shown; DELETE FROM meta WHERE key = 'search_index';
                 INSERT INTO notifications (id, seq, type, category, title, body, data, created_at)
                 VALUES ('id6', 6, 'x', 'events', 'late renewal', '', '{}', '2026-01-01T00:00:00.000Z');",
            )
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(
            ids(&s.page(&text("renewal")).unwrap()),
            vec![6, 5, 4, 3, 2, 1]
        );
        index_sound(&s);
        drop(s);
        // Once: a reopen leaves the built index as it is.
        let s = Store::open(&path).unwrap();
        assert_eq!(s.page(&text("renewal")).unwrap().len(), 6);
        index_sound(&s);
    }

    #[test]
    fn text_is_found_as_the_rows_show_it() {
        let s = store_with(vec![
            note(1, "pay\u{200B}ment failed", "card de\u{AD}clined"),
            note(
                2,
                "in\u{2060}voice\u{202E}fdp.exe",
                "\u{FEFF}ok\u{2066}ay\u{2069}",
            ),
            note(3, "Опла\u{200D}та", "\u{200C}пр\u{200B}ивіт"),
            note(4, "payment", "plain"),
        ]);
        // Through the index and the scan alike, in any case.
        for (q, want) in [
            ("payment", vec![4, 1]),
            ("PAYMENT FAILED", vec![1]),
            ("declined", vec![1]),
            ("invoicefdp", vec![2]),
            ("okay", vec![2]),
            ("оплата", vec![3]),
            ("Привіт", vec![3]),
            ("пр", vec![3]),
            ("ay", vec![4, 2, 1]),
        ] {
            let (indexed, scanned) = both(&s, &text(q));
            assert_eq!(indexed, want, "{q}");
            assert_eq!(scanned, want, "{q}");
        }
        // A query holding hidden characters is the text it shows, and one
        // of nothing else filters nothing.
        assert_eq!(
            ids(&s.page(&text("pay\u{200B}me\u{AD}nt")).unwrap()),
            vec![4, 1]
        );
        assert_eq!(ids(&s.page(&text("o\u{200B}k")).unwrap()), vec![2]);
        assert_eq!(s.page(&text("\u{200B}\u{FEFF}")).unwrap().len(), 4);
        // The hidden characters themselves are not matched.
        assert_eq!(s.page(&text("\u{200B}")).unwrap().len(), 4);
        // The rows keep the text as sent; the window strips it when drawn.
        assert_eq!(
            s.get("id1").unwrap().unwrap().title,
            "pay\u{200B}ment failed"
        );
        index_sound(&s);
        // Edits and deletes take the shown text out of the index again.
        s.lock()
            .execute(
                "UPDATE notifications SET title = 'pay\u{200D}check' WHERE id = 'id1'",
                [],
            )
            .unwrap();
        assert_eq!(ids(&s.page(&text("payment")).unwrap()), vec![4]);
        assert_eq!(ids(&s.page(&text("paycheck")).unwrap()), vec![1]);
        index_sound(&s);
        s.lock()
            .execute("DELETE FROM notifications WHERE id = 'id1'", [])
            .unwrap();
        assert!(s.page(&text("paycheck")).unwrap().is_empty());
        index_sound(&s);
    }

    #[test]
    fn an_index_of_the_raw_text_is_rebuilt_once_as_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox.db");
        drop(store_at(&path, vec![note(1, "re\u{200B}newal due", "")]));
        // As version 1 left it: the index over the raw text, its triggers
        // without `belfry_plain` (so this connection, which lacks it, writes).
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "DROP TRIGGER search_on_insert; DROP TRIGGER search_on_delete;
                 DROP TRIGGER search_on_update; DROP TABLE notifications_fts;
                 DROP VIEW notifications_shown;
                 CREATE VIRTUAL TABLE notifications_fts USING fts5(
                     title, body, content = 'notifications', tokenize = 'trigram');
                 CREATE TRIGGER search_on_insert AFTER INSERT ON notifications BEGIN
                     INSERT INTO notifications_fts (rowid, title, body)
                     VALUES (NEW.rowid, NEW.title, NEW.body);
                 END;
                 INSERT INTO notifications_fts (notifications_fts) VALUES ('rebuild');
                 INSERT INTO notifications (id, seq, type, category, title, body, data, created_at)
                 VALUES ('id2', 2, 'x', 'events', 'late re\u{2060}newal', '', '{}',
                         '2026-01-01T00:00:00.000Z');
                 UPDATE meta SET value = '1' WHERE key = 'search_index';",
            )
            .unwrap();
            let raw: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM notifications_fts WHERE notifications_fts MATCH 'renewal'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(raw, 0, "version 1 indexed the raw text");
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(ids(&s.page(&text("renewal")).unwrap()), vec![2, 1]);
        index_sound(&s);
        let version = Store::meta(&s.lock(), "search_index").unwrap();
        assert_eq!(version.as_deref(), Some(INDEX_VERSION));
        drop(s);
        let s = Store::open(&path).unwrap();
        assert_eq!(ids(&s.page(&text("renewal")).unwrap()), vec![2, 1]);
        index_sound(&s);
    }

    fn store_at(path: &Path, notes: Vec<Notification>) -> Store {
        filled(Store::open(path).unwrap(), notes)
    }

    /// A random text over few letters and words, so substrings recur.
    fn random_text(rng: &mut fastrand::Rng) -> String {
        let words = [
            "Ticket", "chat", "SLA", "refund", "LOGIN", "invoice", "a%b", "x_y",
        ];
        (0..rng.usize(0..6))
            .map(|_| {
                if rng.bool() {
                    words[rng.usize(..words.len())].to_owned()
                } else {
                    (0..rng.usize(1..5))
                        .map(|_| ['a', 'B', 'c', 'e', 'T', '#', '1', ' '][rng.usize(..8)])
                        .collect()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A query: mostly a piece of a stored text in another case.
    fn random_query(rng: &mut fastrand::Rng, texts: &[String]) -> String {
        let source = &texts[rng.usize(..texts.len())];
        let chars: Vec<char> = source.chars().collect();
        if chars.is_empty() || rng.u8(..10) == 0 {
            return random_text(rng).chars().take(rng.usize(1..8)).collect();
        }
        let start = rng.usize(..chars.len());
        let len = rng.usize(1..=(chars.len() - start).min(10));
        chars[start..start + len]
            .iter()
            .map(|c| {
                if rng.bool() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    }

    #[test]
    fn the_index_finds_what_like_finds() {
        let mut rng = fastrand::Rng::with_seed(8);
        let s = Store::in_memory().unwrap();
        // Stored out of order (as resyncs do), some seqs twice, some read.
        let mut seqs: Vec<u64> = (1..=1500).collect();
        seqs.extend((1..=30).map(|i| i * 41));
        rng.shuffle(&mut seqs[..600]);
        let mut texts = Vec::new();
        for chunk in seqs.chunks(100) {
            let events: Vec<Event> = chunk
                .iter()
                .map(|&seq| {
                    let mut n = note(seq, &random_text(&mut rng), &random_text(&mut rng));
                    n.id = format!("id{}", rng.u64(..));
                    if rng.bool() {
                        n.read_at = Some(Utc::now());
                    }
                    if rng.u8(..4) == 0 {
                        n.category = Category::System;
                    }
                    texts.push(n.title.clone());
                    texts.push(n.body.clone());
                    Event::Notification(n)
                })
                .collect();
            s.apply(&events).unwrap();
        }
        let check = |rng: &mut fastrand::Rng, runs: usize| {
            for _ in 0..runs {
                let f = Filter {
                    unread: rng.bool(),
                    category: match rng.u8(..3) {
                        0 => Some(Category::Events),
                        1 => Some(Category::System),
                        _ => None,
                    },
                    text: Some(random_query(rng, &texts)),
                    before: rng.bool().then(|| rng.u64(1..1600)),
                    limit: [1, 7, 50, 400][rng.usize(..4)],
                };
                let (indexed, scanned) = both(&s, &f);
                assert_eq!(indexed, scanned, "{f:?}");
            }
        };
        check(&mut rng, 1500);
        // And after pruning and a resync.
        s.prune(Retention {
            max_read: 200,
            max_age_days: 30,
        })
        .unwrap();
        s.merge_snapshot(&[], &HashSet::new(), 2000).unwrap();
        check(&mut rng, 500);
        index_sound(&s);
    }
}
