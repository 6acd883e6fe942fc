//! One paging scheme for every List*/Describe* call: a page holds at most `limit` items, and the
//! next token names the last item returned by a stable key (and its position, in case it has
//! gone since), so items made or removed between pages neither repeat nor hide others.

/// One page of `items` (each with its stable key, e.g. a creation sequence, or its index when
/// the list does not change between pages) after `token`. Returns the page and the next token;
/// a token that is not one of ours is an error message for the caller's error shape.
pub fn page<T>(items: Vec<(u64, T)>, token: Option<&str>, limit: usize) -> Result<(Vec<T>, Option<String>), String> {
    let start = match token {
        None => 0,
        Some(token) => {
            let (key, end) = parse(token).ok_or_else(|| format!("Invalid pagination token: '{token}'"))?;
            items.iter().position(|(k, _)| *k == key).map_or(end.min(items.len()), |i| i + 1)
        }
    };
    let rest: Vec<(u64, T)> = items.into_iter().skip(start).collect();
    let more = rest.len() > limit.max(1);
    let page: Vec<(u64, T)> = rest.into_iter().take(limit.max(1)).collect();
    let token = match page.last() {
        Some((key, _)) if more => Some(format!("nt-{key}-{}", start + page.len())),
        _ => None,
    };
    Ok((page.into_iter().map(|(_, item)| item).collect(), token))
}

/// Items keyed by their position, for lists that do not change between pages.
pub fn indexed<T>(items: impl IntoIterator<Item = T>) -> Vec<(u64, T)> {
    items.into_iter().enumerate().map(|(i, item)| (i as u64, item)).collect()
}

fn parse(token: &str) -> Option<(u64, usize)> {
    let (key, end) = token.strip_prefix("nt-")?.split_once('-')?;
    Some((key.parse().ok()?, end.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_each_other_and_end_without_a_token() {
        let (first, token) = page(indexed(["a", "b", "c"]), None, 2).unwrap();
        assert_eq!((first, token.as_deref()), (vec!["a", "b"], Some("nt-1-2")));
        let (second, token) = page(indexed(["a", "b", "c"]), Some("nt-1-2"), 2).unwrap();
        assert_eq!((second, token), (vec!["c"], None));
    }

    #[test]
    fn an_item_removed_between_pages_hides_nothing() {
        let (_, token) = page(vec![(10, "a"), (11, "b"), (12, "c")], None, 1).unwrap();
        // "a" (the last item returned) is gone: the position carried in the token still counts.
        let (next, _) = page(vec![(11, "b"), (12, "c")], token.as_deref(), 1).unwrap();
        assert_eq!(next, vec!["c"]);
        let (next, _) = page(vec![(9, "new"), (10, "a"), (11, "b")], token.as_deref(), 1).unwrap();
        assert_eq!(next, vec!["b"], "an item made before the cursor does not repeat the cursor's");
    }

    #[test]
    fn foreign_tokens_are_refused() {
        assert_eq!(page(indexed([1]), Some("page-1"), 1).unwrap_err(), "Invalid pagination token: 'page-1'");
        assert!(page(indexed([1]), Some("nt-x-1"), 1).is_err());
    }
}
