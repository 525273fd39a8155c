//! HogQL printer: turns an AST back into HogQL text that parses to the same AST.
