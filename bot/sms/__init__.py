"""SMS text rules shared by every SMS connector: GSM-7, segments and splitting."""
