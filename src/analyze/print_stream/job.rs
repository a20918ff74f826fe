//! One job on a raw-printing stream as it accumulates: the languages met, byte counts, who
//! printed what (PJL and PostScript header fields), the PJL commands seen. It becomes a `print`
//! record when the job ends.

use crate::event::{self, text};
use crate::proto::pdl::Language;
use crate::proto::pjl;
use crate::proto::postscript::Dsc;

/// PJL commands listed per job record.
const MAX_COMMANDS: usize = 32;
/// Languages listed per job record.
const MAX_LANGUAGES: usize = 8;

#[derive(Default)]
pub(super) struct Job {
    languages: Vec<Language>,
    /// Client-to-printer stream bytes.
    pub bytes: u64,
    pub bytes_toclient: u64,
    /// Who printed what, allocated on the first PJL command or DSC comment: a stream of page
    /// data alone (and a closed connection lingering in the flow table) keeps 8 bytes for it,
    /// not 144.
    text: Option<Box<JobText>>,
    pjl_lines: u64,
    /// Page-description bytes (not PJL): a job that printed something.
    pub pdl_bytes: u64,
}

/// The job's text fields (PJL and PostScript header), each the first of its kind.
#[derive(Default)]
struct JobText {
    job_name: Option<String>,
    user: Option<String>,
    title: Option<String>,
    creator: Option<String>,
    ps_for: Option<String>,
    commands: Vec<String>,
}

impl Job {
    fn text(&mut self) -> &mut JobText {
        self.text.get_or_insert_with(Box::default)
    }

    /// A part in `lang` starts.
    pub fn language(&mut self, lang: Language) {
        if !self.languages.contains(&lang) && self.languages.len() < MAX_LANGUAGES {
            self.languages.push(lang);
        }
    }

    /// A PJL line: counted, its command listed, the job name and user noted.
    pub fn pjl_line(&mut self, line: &pjl::Line<'_>) {
        self.pjl_lines += 1;
        if !self.languages.contains(&Language::Pjl) && self.languages.len() < MAX_LANGUAGES {
            self.languages.insert(0, Language::Pjl);
        }
        if self.text().commands.len() < MAX_COMMANDS && !line.command.is_empty() {
            let mut c = text::capped(line.command, 32).to_ascii_uppercase();
            let w = line.first_word();
            if !w.is_empty()
                && (line.is("SET")
                    || line.is("DEFAULT")
                    || line.is("INFO")
                    || line.is("DINQUIRE")
                    || line.is("INQUIRE"))
            {
                c.push(' ');
                c.push_str(&text::capped(w, 32).to_ascii_uppercase());
            }
            let t = self.text();
            if !t.commands.contains(&c) {
                t.commands.push(c);
            }
        }
        if line.is("JOB") {
            if let Some(n) = line.option("NAME") {
                self.text()
                    .job_name
                    .get_or_insert(text::capped(n, text::MAX_FIELD));
            }
        }
        if line.is("SET") && line.first_word().eq_ignore_ascii_case(b"USERNAME") {
            if let Some(u) = line.option("USERNAME") {
                self.text()
                    .user
                    .get_or_insert(text::capped(u, text::MAX_FIELD));
            }
        }
    }

    /// A DSC comment of a PostScript header: the first of each kind counts.
    pub fn dsc(&mut self, which: Dsc, value: &[u8]) {
        let t = self.text();
        let slot = match which {
            Dsc::Title => &mut t.title,
            Dsc::For => &mut t.ps_for,
            Dsc::Creator => &mut t.creator,
        };
        slot.get_or_insert_with(|| text::capped(value, text::MAX_FIELD));
    }

    /// Nothing went either way: no record.
    pub fn is_empty(&self) -> bool {
        self.bytes == 0 && self.bytes_toclient == 0
    }

    pub fn into_record(self) -> event::Print {
        // The job's language is its last page-description language; a text or unknown
        // trailer a driver appends after it does not change what was printed.
        let language = self
            .languages
            .iter()
            .rev()
            .find(|l| !matches!(l, Language::Pjl | Language::Text | Language::Unknown))
            .or(self.languages.iter().find(|l| **l != Language::Pjl))
            .or(self.languages.first())
            .copied()
            .unwrap_or(Language::Unknown);
        let t = self.text.map(|b| *b).unwrap_or_default();
        event::Print {
            language,
            languages: self.languages,
            bytes_toserver: self.bytes,
            bytes_toclient: self.bytes_toclient,
            job_name: t.job_name,
            user: t.user.or(t.ps_for),
            title: t.title,
            creator: t.creator,
            pjl_lines: self.pjl_lines,
            commands: t.commands,
        }
    }
}
