//! Self-contained HTML reports, SVG plots and junit.xml. (Built in issue 6.)
