use super::*;

fn set(key: &str, value: &str) -> Change {
    Change {
        key: key.as_bytes().to_vec(),
        value: Some(value.as_bytes().to_vec()),
    }
}

fn delete(key: &str) -> Change {
    Change {
        key: key.as_bytes().to_vec(),
        value: None,
    }
}

fn sorted(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = entries
        .iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brokerlab-journal-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn what_was_appended_is_read_back_in_order() -> Result<()> {
    let dir = temp_dir("roundtrip");
    {
        let mut opened = open(&dir)?;
        assert!(opened.entries.is_empty());
        opened.journal.append(&[set("a", "1"), set("b", "2")])?;
        opened
            .journal
            .append(&[delete("a"), set("b", "3"), set("c", "4")])?;
    }
    let opened = open(&dir)?;
    assert_eq!(opened.records, 2);
    assert_eq!(opened.torn, None);
    assert_eq!(sorted(&opened.entries), pairs(&[("b", "3"), ("c", "4")]));
    Ok(())
}

#[test]
fn a_torn_last_record_is_skipped_reported_and_cut_off_and_the_rest_kept() -> Result<()> {
    let dir = temp_dir("torn");
    let (whole, full) = {
        let mut opened = open(&dir)?;
        opened.journal.append(&[set("a", "1")])?;
        let whole = opened.journal.len();
        opened.journal.append(&[set("b", "2")])?;
        (whole, opened.journal.len())
    };
    let path = dir.join(JOURNAL_FILE);
    assert!(fs::metadata(&path)?.len() > full, "zeros are written ahead");
    // The file ends inside the last record, as if its size was updated by half a write.
    OpenOptions::new()
        .write(true)
        .open(&path)?
        .set_len(full - 3)?;
    let mut opened = open(&dir)?;
    assert_eq!(opened.records, 1);
    let torn = opened.torn.take().expect("a damaged end");
    assert_eq!((torn.offset, torn.why), (whole, "a record cut short"));
    // Counted up to its last byte that is not zero.
    assert!(torn.bytes > 0 && torn.bytes <= full - 3 - whole, "{torn:?}");
    assert_eq!(sorted(&opened.entries), pairs(&[("a", "1")]));
    assert_eq!(
        fs::metadata(&path)?.len(),
        whole,
        "the damaged end is cut off"
    );
    opened.journal.append(&[set("c", "3")])?;
    drop(opened);
    let opened = open(&dir)?;
    assert_eq!(
        opened.torn, None,
        "appending after the cut leaves a whole journal"
    );
    assert_eq!(sorted(&opened.entries), pairs(&[("a", "1"), ("c", "3")]));
    Ok(())
}

/// Damages the last record of a journal holding a, then b, with `damage` (given the
/// file's bytes and where the records end), and checks that only a is recovered, and why.
fn damaged_last_record(name: &str, damage: impl Fn(&mut Vec<u8>, usize), why: &str) -> Result<()> {
    let dir = temp_dir(name);
    let end = {
        let mut opened = open(&dir)?;
        opened.journal.append(&[set("a", "1")])?;
        opened.journal.append(&[set("b", "2")])?;
        opened.journal.len() as usize
    };
    let path = dir.join(JOURNAL_FILE);
    let mut bytes = fs::read(&path)?;
    damage(&mut bytes, end);
    fs::write(&path, &bytes)?;
    let opened = open(&dir)?;
    assert_eq!(opened.torn.map(|t| t.why), Some(why));
    assert_eq!(sorted(&opened.entries), pairs(&[("a", "1")]));
    Ok(())
}

#[test]
fn a_record_with_a_flipped_bit_is_skipped_with_everything_after_it() -> Result<()> {
    damaged_last_record(
        "flipped",
        |bytes, end| bytes[end - 1] ^= 0x01,
        "a record whose checksum does not match",
    )
}

#[test]
fn a_record_whose_end_never_reached_the_disk_is_skipped() -> Result<()> {
    // Written into the zeros ahead, a record cut by a power loss ends in zeros.
    damaged_last_record(
        "zeroed",
        |bytes, end| bytes[end - 3..end].fill(0),
        "a record whose checksum does not match",
    )
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused() -> Result<()> {
    let dir = temp_dir("lock");
    let first = open(&dir)?;
    let second = open(&dir).expect_err("the lock is held");
    let message = format!("{second:#}");
    assert!(message.contains("in use by another brokerlab"), "{message}");
    assert!(
        message.contains(&std::process::id().to_string()),
        "{message}"
    );
    drop(first);
    open(&dir)?;
    Ok(())
}

#[test]
fn a_journal_of_a_newer_format_or_another_file_is_refused_clearly() -> Result<()> {
    let dir = temp_dir("version");
    drop(open(&dir)?);
    let path = dir.join(JOURNAL_FILE);
    let mut bytes = fs::read(&path)?;
    bytes[12..16].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    fs::write(&path, &bytes)?;
    let message = format!("{:#}", open(&dir).expect_err("newer format"));
    assert!(message.contains("newer brokerlab"), "{message}");
    fs::write(&path, b"not a journal at all")?;
    let message = format!("{:#}", open(&dir).expect_err("not a journal"));
    assert!(message.contains("is not a brokerlab journal"), "{message}");
    Ok(())
}

#[test]
fn a_journal_much_larger_than_what_it_holds_is_compacted() -> Result<()> {
    let dir = temp_dir("compact");
    let value = "x".repeat(64 * 1024);
    let mut written = 0;
    {
        let mut opened = open(&dir)?;
        opened.journal.compact_min = 1024 * 1024;
        // The same two keys rewritten: 12.8 MB appended, 64 KiB held.
        for i in 0..200 {
            opened
                .journal
                .append(&[set("k", &value), set("n", &i.to_string())])?;
            written += value.len();
        }
        assert!(
            opened.journal.len() < 2 * 1024 * 1024,
            "{} bytes after {written} written",
            opened.journal.len()
        );
    }
    let opened = open(&dir)?;
    assert_eq!(opened.torn, None);
    assert_eq!(
        sorted(&opened.entries),
        pairs(&[("k", &value), ("n", "199")])
    );
    Ok(())
}
