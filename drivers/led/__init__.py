"""LED displays: GBK text layout, framings, what a strip and a hall screen show."""
