"""`/v2/Services/{VA}/Entities/…`: entities, factors and challenges."""
