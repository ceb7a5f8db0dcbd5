//! Text search over the inbox: the trigram index, and a scan folded the
//! same way for what the index cannot answer.

use super::*;

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

/// Case folding for every script, as the trigram index folds and as the
/// window's own filter (JavaScript's `toLowerCase`) does: SQLite's `LIKE`
/// and `lower` fold ASCII only, so "пр" would not find "Привіт" in a scan
/// while the index and the window did.
fn fold(text: &str) -> String {
    text.to_lowercase()
}

pub(super) fn register_fold(conn: &Connection) -> Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        FOLD,
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                rusqlite::types::ValueRef::Text(t) => fold(&String::from_utf8_lossy(t)),
                _ => String::new(),
            })
        },
    )?;
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
                 DELETE FROM meta WHERE key = 'search_index';
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
