"""Plots and image sheets made from results."""
