//! The `fake::` module: seeded faker-style values for expressions.
//!
//! ```text
//!   fake::first_name()  fake::last_name()  fake::name()      "Aaliyah Abbott"
//!   fake::email()       "aaliyah.abbott@gmail.com"
//!   fake::city()        "Aaronville"        fake::country()   "Norway"
//!   fake::phone()       "555-123-4567" style, from the locale's formats
//!   fake::company()     "Abbott LLC" / "Abbott-Bailey" / "Abbott, Bailey and Batz"
//!   fake::word()        one lorem word      fake::words(n)    array of n words
//!   fake::lorem(n)      a sentence of n words ("Alias sit amet.")
//! ```
//!
//! The word lists are the `fake` crate's English locale data; the *sampling* is ours
//! ([`crate::datagen::draw`] on the record's RNG), not `fake`'s `Fake` trait, because
//! that trait draws through `rand`'s range APIs, whose values may change between `rand`
//! releases. A `fake` upgrade can still change the lists, so the version is pinned by
//! `Cargo.lock` like every other dependency and a test pins a few values.

use fake::locales::{Data, EN};
use rhai::{Array, Dynamic, INT, ImmutableString, Module};

use super::sandbox::{MAX_WORDS, SharedRng, draw_with};
use crate::datagen::draw;
use crate::datagen::seed::RecordRng;

type Fallible<T> = Result<T, Box<rhai::EvalAltResult>>;

/// One element of `list`, uniformly.
fn one(rng: &mut RecordRng, list: &'static [&'static str]) -> &'static str {
    list[usize::try_from(draw::below(rng, list.len() as u64)).unwrap_or(0)]
}

fn first_name(rng: &mut RecordRng) -> &'static str {
    one(rng, EN::NAME_FIRST_NAME)
}

fn last_name(rng: &mut RecordRng) -> &'static str {
    one(rng, EN::NAME_LAST_NAME)
}

/// Lowercase ASCII letters of `name` only, so e-mail addresses stay valid.
fn mailbox_part(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Fills a locale number format: `#` is any digit, `^` a digit 1–9.
fn digits(rng: &mut RecordRng, format: &str) -> String {
    format
        .chars()
        .map(|c| match c {
            '#' => char::from(b'0' + draw::below(rng, 10) as u8),
            '^' => char::from(b'1' + draw::below(rng, 9) as u8),
            other => other,
        })
        .collect()
}

fn company(rng: &mut RecordRng) -> String {
    match draw::below(rng, 3) {
        0 => format!("{} {}", last_name(rng), one(rng, EN::COMPANY_SUFFIX)),
        1 => format!("{}-{}", last_name(rng), last_name(rng)),
        _ => format!(
            "{}, {} and {}",
            last_name(rng),
            last_name(rng),
            last_name(rng)
        ),
    }
}

fn word_count(n: INT, function: &str) -> Fallible<usize> {
    if !(0..=MAX_WORDS).contains(&n) {
        return Err(
            format!("fake::{function}: n must be between 0 and {MAX_WORDS}, got {n}").into(),
        );
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Registers a no-argument `fake::<name>()` returning a string built from the RNG.
fn string_fn(module: &mut Module, slot: &SharedRng, name: &str, f: StringFn) {
    let s = slot.clone();
    module.set_native_fn(name, move || -> Fallible<ImmutableString> {
        draw_with(&s, f).map(Into::into)
    });
}

// Concatenated rather than `format!`ed: these run per record, and the
// formatting machinery cost more than the draws (draws stay in the same order).
fn full_name(r: &mut RecordRng) -> String {
    let first = first_name(r);
    [first, " ", last_name(r)].concat()
}

fn email(r: &mut RecordRng) -> String {
    let (first, last) = (first_name(r), last_name(r));
    let provider = one(r, EN::INTERNET_FREE_EMAIL_PROVIDER);
    format!("{}.{}@{provider}", mailbox_part(first), mailbox_part(last))
}

/// fake's own city template is `{first name}{suffix}`; the prefixed variants read as
/// less plausible, so only this one is used.
fn city(r: &mut RecordRng) -> String {
    let first = first_name(r);
    [first, one(r, EN::ADDRESS_CITY_SUFFIX)].concat()
}

fn phone(r: &mut RecordRng) -> String {
    let format = one(r, EN::PHONE_CELL_NUMBER_FORMATS);
    digits(r, format)
}

pub(super) type StringFn = fn(&mut RecordRng) -> String;

/// The no-argument `fake::` functions, each a string built from the record's RNG.
/// The Rhai module and the native fast path (`super::native`) both call these.
pub(super) const STRING_FNS: &[(&str, StringFn)] = &[
    ("first_name", |r| first_name(r).to_owned()),
    ("last_name", |r| last_name(r).to_owned()),
    ("name", full_name),
    ("email", email),
    ("city", city),
    ("country", |r| one(r, EN::ADDRESS_COUNTRY).to_owned()),
    ("phone", phone),
    ("company", company),
    ("word", |r| one(r, EN::LOREM_WORD).to_owned()),
];

/// The `fake` module, drawing from `slot`.
pub(super) fn module(slot: &SharedRng) -> Module {
    let mut m = Module::new();
    for (name, f) in STRING_FNS {
        string_fn(&mut m, slot, name, *f);
    }

    let s = slot.clone();
    m.set_native_fn("words", move |n: INT| -> Fallible<Array> {
        let n = word_count(n, "words")?;
        draw_with(&s, |r| {
            (0..n)
                .map(|_| Dynamic::from(one(r, EN::LOREM_WORD).to_owned()))
                .collect()
        })
    });
    let s = slot.clone();
    m.set_native_fn("lorem", move |n: INT| -> Fallible<ImmutableString> {
        let n = word_count(n, "lorem")?;
        let words: Vec<&str> = draw_with(&s, |r| (0..n).map(|_| one(r, EN::LOREM_WORD)).collect())?;
        let mut sentence = words.join(" ");
        if let Some(first) = sentence.get(..1) {
            let upper = first.to_ascii_uppercase();
            sentence.replace_range(..1, &upper);
            sentence.push('.');
        }
        Ok(sentence.into())
    });
    m
}
