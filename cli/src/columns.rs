//! Text in aligned columns, the way kubectl prints tables.

/// Pads every cell but the last of each row to its column's width.
pub fn columns(rows: &[Vec<String>], gap: &str) -> Vec<String> {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(index) {
                Some(known) => *known = (*known).max(width),
                None => widths.push(width),
            }
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (index, cell) in row.iter().enumerate() {
                if index > 0 {
                    line.push_str(gap);
                }
                line.push_str(cell);
                let width = widths.get(index).copied().unwrap_or(0);
                line.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
            }
            line.trim_end().to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_the_widest_cell_and_trims_the_end() {
        let rows = vec![
            vec!["NAME".to_owned(), "PHASE".to_owned(), "STEP".to_owned()],
            vec!["iris".to_owned(), "Healthy".to_owned(), String::new()],
            vec![
                "fraud-detector".to_owned(),
                "Paused".to_owned(),
                "2/5 pause".to_owned(),
            ],
        ];
        assert_eq!(
            columns(&rows, "   "),
            [
                "NAME             PHASE     STEP",
                "iris             Healthy",
                "fraud-detector   Paused    2/5 pause",
            ]
        );
    }
}
