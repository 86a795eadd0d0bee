"""The Ascend twin: simulated Atlas 300I Duo and A2 hosts for the suite to qualify."""
