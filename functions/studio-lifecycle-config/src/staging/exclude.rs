//! Exclude patterns, with .gitignore-like meaning: a pattern without `/` (`*.pyc`,
//! `__pycache__`) matches a file or directory name at any depth; a pattern with `/`
//! (`docs/*.md`, `build/**`) matches from the asset's root. Excluding a directory excludes
//! everything under it. `*` stays within one name; `**` crosses directories.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

#[derive(Debug, Clone)]
pub struct Exclude {
    names: GlobSet,
    paths: GlobSet,
}

impl Default for Exclude {
    fn default() -> Self {
        Self { names: GlobSet::empty(), paths: GlobSet::empty() }
    }
}

impl Exclude {
    /// Compiles the patterns; an invalid one is reported with its index.
    pub fn new(patterns: &[String]) -> Result<Self, (usize, String)> {
        let (mut names, mut paths) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        for (i, pattern) in patterns.iter().enumerate() {
            let trimmed = pattern.trim().trim_end_matches('/');
            if trimmed.is_empty() {
                return Err((i, "an empty pattern".into()));
            }
            let anchored = trimmed.strip_prefix('/');
            let text = anchored.unwrap_or(trimmed);
            let glob = glob(text).map_err(|e| (i, e))?;
            if anchored.is_some() || text.contains('/') {
                paths.add(glob);
            } else {
                names.add(glob);
            }
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| (0, e.to_string()));
        Ok(Self { names: build(names)?, paths: build(paths)? })
    }

    /// Whether the file at `path` (relative, `/`-separated) is excluded.
    pub fn matches(&self, path: &str) -> bool {
        let mut prefix_end = 0;
        for (i, name) in path.split('/').enumerate() {
            prefix_end += if i == 0 { name.len() } else { name.len() + 1 };
            if self.names.is_match(name) || self.paths.is_match(&path[..prefix_end]) {
                return true;
            }
        }
        false
    }
}

fn glob(pattern: &str) -> Result<Glob, String> {
    GlobBuilder::new(pattern).literal_separator(true).backslash_escape(true).build().map_err(|e| e.kind().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exclude(patterns: &[&str]) -> Exclude {
        Exclude::new(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn name_patterns_match_at_any_depth_and_exclude_directories() {
        let e = exclude(&["*.pyc", "__pycache__"]);
        assert!(e.matches("a.pyc"));
        assert!(e.matches("pkg/sub/a.pyc"));
        assert!(e.matches("pkg/__pycache__/mod.cpython-311.opt"));
        assert!(!e.matches("pkg/a.py"));
        assert!(!e.matches("pyc"));
    }

    #[test]
    fn path_patterns_are_anchored_at_the_root() {
        let e = exclude(&["docs/*.md", "/build", "tests/**/fixtures"]);
        assert!(e.matches("docs/a.md"));
        assert!(!e.matches("docs/sub/a.md"), "* stays within a name");
        assert!(!e.matches("src/docs/a.md"));
        assert!(e.matches("build/out/x.bin"));
        assert!(!e.matches("src/build/x.bin"));
        assert!(e.matches("tests/unit/deep/fixtures/data.json"));
        assert!(!e.matches("tests/unit/data.json"));
    }

    #[test]
    fn invalid_patterns_are_reported_with_their_index() {
        let err = Exclude::new(&["*.pyc".into(), "[abc".into()]).unwrap_err();
        assert_eq!(err.0, 1);
        assert!(err.1.contains("unclosed"), "{}", err.1);
        assert_eq!(Exclude::new(&["".into()]).unwrap_err().0, 0);
    }
}
