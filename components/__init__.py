"""Pure layout and figure builders: data in, Dash components or Plotly figures out."""
