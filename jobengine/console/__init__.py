"""The job console (TUI): rows gathered through the managers (`data`), pure view state
(`state`), the widgets and screens, and the Textual app that wires them (`app`)."""
