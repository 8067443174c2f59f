"""The payments domain: bills, their payments and refunds, as the events they record. No I/O."""
