"""From runs to conclusions: the merged tables and statistics, the study figures, the neuron simulation
figures, and the self-contained summary page. ``registry`` names the tables and figures without importing
the plotting libraries."""
